"""scripts/authenticate-claude.sh outside Docker: ``status`` and ``token`` with a temporary home."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT

SCRIPT = ROOT / "scripts" / "authenticate-claude.sh"
TOKEN = "sk-ant-oat01-status-test-secret-token"
ACCESS = "sk-ant-oat01-credentials-access-secret"
REFRESH = "sk-ant-ort01-credentials-refresh-secret"
SECRETS = (TOKEN, ACCESS, REFRESH)
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00")


def _run(home: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """A copy of the script (its repository root: ``home/app``, so never this checkout's .env) run
    with only a minimal environment: nothing of the caller's login leaks in."""
    script = home / "app" / "scripts" / SCRIPT.name
    if not script.exists():
        script.parent.mkdir(parents=True)
        shutil.copy2(SCRIPT, script)
    python_dir = str(Path(shutil.which("python3") or "/usr/bin/python3").parent)
    base = {"PATH": f"{python_dir}:/usr/bin:/bin", "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude")}
    command = ["bash", "-c", 'umask 022; exec "$0" "$@"', str(script), *args]  # a usual umask
    return subprocess.run(command, env={**base, **env}, input=stdin, capture_output=True, text=True, timeout=30)


def _credentials(home: Path, expires_at: float, refresh: bool = True) -> None:
    oauth: dict[str, object] = {"accessToken": ACCESS, "expiresAt": int(expires_at * 1000), "subscriptionType": "max"}
    if refresh:
        oauth["refreshToken"] = REFRESH
    (home / ".claude").mkdir(exist_ok=True)
    (home / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))


def _no_secrets(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in output
    return output


def test_status_with_a_token_in_the_environment(tmp_path: Path) -> None:
    result = _run(tmp_path, "status", CLAUDE_CODE_OAUTH_TOKEN=TOKEN)
    output = _no_secrets(result)
    assert result.returncode == 0, output
    assert "logged in" in output
    assert "not logged in" not in output


def test_status_with_a_credentials_file(tmp_path: Path) -> None:
    expires = time.time() + 3600
    _credentials(tmp_path, expires)
    result = _run(tmp_path, "status")
    output = _no_secrets(result)
    assert result.returncode == 0, output
    assert output.startswith("logged in")
    assert "max" in output
    stamp = ISO_UTC.search(output)
    assert stamp, output
    assert abs(datetime.fromisoformat(stamp.group(0)).timestamp() - expires) < 1


def test_status_with_an_expired_access_token_that_can_be_refreshed(tmp_path: Path) -> None:
    _credentials(tmp_path, time.time() - 3600)
    result = _run(tmp_path, "status")
    output = _no_secrets(result)
    assert result.returncode == 0, output
    assert "expired" in output
    assert "refresh" in output


def test_status_with_an_expired_login_and_no_refresh_token(tmp_path: Path) -> None:
    _credentials(tmp_path, time.time() - 3600, refresh=False)
    result = _run(tmp_path, "status")
    output = _no_secrets(result)
    assert result.returncode == 1, output
    assert "expired" in output
    assert "no refresh token" in output
    assert "login" in output


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"mcpOAuth": {}})])
def test_status_not_logged_in_says_how_to_log_in(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / ".claude").mkdir()
        (tmp_path / ".claude" / ".credentials.json").write_text(content)
    result = _run(tmp_path, "status")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not logged in" in result.stderr
    assert "login" in result.stderr
    assert "token" in result.stderr
    assert "CLAUDE_CODE_OAUTH_TOKEN" in result.stderr


@pytest.mark.parametrize(
    "existing", [None, "LITELLM_MASTER_KEY=sk-keep-me\nCLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-old\n"]
)
def test_token_is_stored_in_the_env_file_privately(tmp_path: Path, existing: str | None) -> None:
    env_file = tmp_path / "secrets" / "proxy.env"
    env_file.parent.mkdir()
    if existing is not None:
        env_file.write_text(existing)
        env_file.chmod(0o644)
    result = _run(tmp_path, "token", stdin=f"{TOKEN}\n", ENV_FILE=str(env_file))
    output = _no_secrets(result)
    assert result.returncode == 0, output
    assert str(env_file) in output
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    lines = env_file.read_text().splitlines()
    assert [line for line in lines if line.startswith("CLAUDE_CODE_OAUTH_TOKEN=")] == [
        f"CLAUDE_CODE_OAUTH_TOKEN={TOKEN}"
    ]
    if existing is not None:
        assert "LITELLM_MASTER_KEY=sk-keep-me" in lines
    assert sorted(os.listdir(env_file.parent)) == ["proxy.env"]  # no temporary file left behind
    # and status counts the stored token (scripts/run-proxy reads that file)
    status = _run(tmp_path, "status", ENV_FILE=str(env_file))
    assert status.returncode == 0, _no_secrets(status)
    assert "logged in" in _no_secrets(status)


def test_token_without_a_newline_or_empty(tmp_path: Path) -> None:
    stored = _run(tmp_path, "token", stdin=TOKEN)  # piped without a trailing newline; default ENV_FILE
    assert stored.returncode == 0, _no_secrets(stored)
    assert f"CLAUDE_CODE_OAUTH_TOKEN={TOKEN}" in (tmp_path / "app" / ".env").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    empty = _run(elsewhere, "token", stdin="\n")
    assert empty.returncode == 2
    assert "no token" in empty.stderr
    assert not (elsewhere / "app" / ".env").exists()
