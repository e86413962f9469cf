"""Deployment settings: only from model_info, validated with clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_claude_code.proxy.config_check import config_path_from_argv, validate_config
from litellm_claude_code.settings import DeploymentSettings, SettingsError, parse_settings, settings_from_litellm_params


def test_defaults_when_absent() -> None:
    assert parse_settings(None) == DeploymentSettings()


def test_values_are_read() -> None:
    settings = parse_settings({"max_retries": 3, "timeout": 30, "config_dir": "/srv/a", "auth": "api_key"})
    assert (settings.max_retries, settings.timeout, settings.config_dir, settings.auth) == (3, 30, "/srv/a", "api_key")
    assert (settings.extra_usage, settings.warning_threshold) == ("refuse", 0.8)  # the defaults
    assert parse_settings({"extra_usage": "allow", "warning_threshold": 0.9}).extra_usage == "allow"


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("nope", "must be a mapping"),
        ({"cwd": "/"}, r"unknown key\(s\) \['cwd'\]"),
        ({"max_retries": "2"}, "max_retries must be int"),
        ({"max_retries": True}, "must not be a boolean"),
        ({"max_retries": 99}, "between 0 and 10"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"pool_size": 65}, "pool_size must be between 0 and 64"),
        ({"pool_size": -1}, "pool_size must be between 0 and 64"),
        ({"max_concurrent": 0}, "max_concurrent must be >= 1"),
        ({"max_queue": -1}, "max_queue >= 0"),
        ({"queue_timeout": 0}, "queue_timeout must be positive"),
        ({"idle_timeout": -5}, "idle_timeout must be positive"),
        ({"timeout": "soon"}, "timeout must be int or float"),
        ({"auth": "password"}, "auth must be 'oauth' or 'api_key'"),
        ({"default_system_prompt": "  "}, "must not be empty"),
        ({"extra_usage": "sometimes"}, "extra_usage must be 'refuse' or 'allow'"),
        ({"warning_threshold": 0}, "warning_threshold must be above 0 and at most 1"),
        ({"warning_threshold": 1.5}, "warning_threshold must be above 0 and at most 1"),
    ],
)
def test_invalid_settings_are_refused(raw: Any, complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        parse_settings(raw)


def test_request_keys_do_not_count() -> None:
    # Only litellm_params["model_info"] (set by the router from the deployment) is read.
    params = {"cwd": "/etc", "permission_mode": "bypassPermissions", "model_info": {"claude_code": {"max_retries": 2}}}
    assert settings_from_litellm_params(params) == DeploymentSettings(max_retries=2)


def test_config_validation_names_the_deployment() -> None:
    config = {
        "model_list": [
            {
                "model_name": "bad",
                "litellm_params": {"model": "claude-code/sonnet"},
                "model_info": {"claude_code": {"tools": ["Bash"]}},
            }
        ]
    }
    with pytest.raises(SettingsError, match="deployment 'bad'"):
        validate_config(config)


def test_config_validation_skips_other_providers() -> None:
    config = {
        "model_list": [
            {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"claude_code": 1}}
        ]
    }
    assert validate_config(config) == 0


def test_shipped_config_is_valid() -> None:
    import yaml

    with open("config/litellm_config.yaml", encoding="utf-8") as handle:
        assert validate_config(yaml.safe_load(handle)) == 6


@pytest.mark.parametrize(
    ("argv", "path"),
    [(["litellm", "--config", "c.yaml"], "c.yaml"), (["litellm", "--config=d.yaml"], "d.yaml"), (["litellm"], None)],
)
def test_config_path_from_argv(argv: list[str], path: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFIG_FILE_PATH", raising=False)
    assert config_path_from_argv(argv) == path


def test_the_configs_list_of_settings_names_every_real_key() -> None:
    """config/litellm_config.yaml's comment lists exactly DeploymentSettings' keys."""
    from dataclasses import fields
    from pathlib import Path

    config = (Path(__file__).resolve().parents[2] / "config" / "litellm_config.yaml").read_text()
    comment = " ".join(line.lstrip("# ") for line in config.split("live under model_info.claude_code")[1].splitlines())
    listed = comment.split("):", 1)[1].split("See docs/configuration.md")[0].replace("(oauth | api_key)", "")
    names = {name.strip(" .") for name in listed.split(",")}
    assert names == {f.name for f in fields(DeploymentSettings)}
