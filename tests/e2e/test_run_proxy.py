"""The README's run command: scripts/run-proxy makes a master key and serves on the port."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic

from ..waiting import wait_until
from .harness import ROOT, claude_env, free_port, serving

pytestmark = pytest.mark.e2e


def _wait(url: str, process: subprocess.Popen[bytes], within: float) -> None:
    def up() -> bool:
        assert process.poll() is None, "scripts/run-proxy exited"
        return serving(url)

    wait_until(up, within, "scripts/run-proxy to serve", interval=0.25)


def test_run_proxy_generates_a_key_and_serves(mock: MockAnthropic, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("LITELLM_MASTER_KEY", "DATABASE_URL")}
    env.update(claude_env(tmp_path, mock.url))
    env.update({"ENV_FILE": str(env_file), "PORT": str(port), "HOST": "127.0.0.1"})
    log = (tmp_path / "run-proxy.log").open("wb")
    process = subprocess.Popen([str(ROOT / "scripts" / "run-proxy")], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait(f"http://127.0.0.1:{port}", process, within=240)
        key = env_file.read_text().split("LITELLM_MASTER_KEY=", 1)[1].split()[0]
        assert key.startswith("sk-")
        assert len(key) > 30
        assert oct(env_file.stat().st_mode)[-3:] == "600"
        assert key in (tmp_path / "run-proxy.log").read_text()  # printed for the user
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "Hello from the mock."
    finally:
        process.terminate()
        process.wait(20)
        log.close()
