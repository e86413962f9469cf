"""A stored `claude login` (single-use refresh token) is refused at start-up where processes would share it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code.proxy.config_check import refreshable_login, validate_config, validate_startup_config
from litellm_claude_code.settings import SettingsError


def login(directory: Path, refresh: bool = True) -> Path:
    oauth: dict[str, Any] = {"accessToken": "sk-ant-oat01-access", "expiresAt": 1}
    if refresh:
        oauth["refreshToken"] = "sk-ant-ort01-refresh"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))
    return directory


def config(*settings: dict[str, Any]) -> dict[str, Any]:
    entries = [
        {"model_name": f"m{index}", "litellm_params": {"model": "claude-code/sonnet"}, "model_info": {"claude_code": s}}
        for index, s in enumerate(settings)
    ]
    return {"model_list": entries}


def test_a_refreshable_login_is_one_with_a_refresh_token(tmp_path: Path) -> None:
    assert refreshable_login(login(tmp_path / "a"))
    assert not refreshable_login(login(tmp_path / "b", refresh=False))
    assert not refreshable_login(tmp_path / "none")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ".credentials.json").write_text("not json")
    assert not refreshable_login(tmp_path / "broken")


def test_processes_sharing_a_refreshable_login_are_refused(tmp_path: Path) -> None:
    directory = str(login(tmp_path / "a"))
    with pytest.raises(SettingsError, match=r"up to 10 Claude Code processes .*claude setup-token"):
        validate_config(config({"config_dir": directory}), {})  # the defaults: 8 at once and 2 kept
    single = {"config_dir": directory, "pool_size": 0, "max_concurrent": 1}
    assert validate_config(config(single), {}) == 1
    with pytest.raises(SettingsError, match=r"\['m0', 'm1'\] would run up to 2"):
        validate_config(config(single, single), {})  # two deployments, one login


def test_tokens_keys_and_logins_without_refresh_are_not_concerned(tmp_path: Path) -> None:
    directory = str(login(tmp_path / "a"))
    assert validate_config(config({"config_dir": directory}), {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}) == 1
    own = {"config_dir": directory, "oauth_token_env": "TOKEN_A"}
    assert validate_config(config(own), {"TOKEN_A": "sk-ant-oat01-a"}) == 1
    assert validate_config(config({"config_dir": directory, "auth": "api_key"}), {}) == 1
    plain = str(login(tmp_path / "b", refresh=False))
    assert validate_config(config({"config_dir": plain}), {}) == 1
    assert validate_config(config({"config_dir": directory})) == 1  # no environment given: logins not checked


def test_the_default_config_dir_is_the_environments(tmp_path: Path) -> None:
    login(tmp_path / ".claude")
    with pytest.raises(SettingsError, match="stored `claude login`"):
        validate_config(config({}), {"CLAUDE_CONFIG_DIR": str(tmp_path / ".claude")})


def test_start_up_reads_the_config_file_and_the_environment(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config({"config_dir": str(login(tmp_path / "a"))})))
    with pytest.raises(SettingsError):
        validate_startup_config(["litellm", "--config", str(path)], {})
    assert validate_startup_config(["litellm", "--config", str(path)], {"CLAUDE_CODE_OAUTH_TOKEN": "t"}) == 1
