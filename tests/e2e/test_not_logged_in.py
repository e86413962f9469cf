"""Not logged in: a clear 401 quickly, even with an API key in the proxy's environment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy, claude_env, run_proxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def logged_out_proxy(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    home: Path = tmp_path_factory.mktemp("logged-out-home")
    env = claude_env(home, mock.url)
    env["CLAUDE_CODE_OAUTH_TOKEN"] = ""  # no token, and an empty config directory
    with run_proxy(home, env) as running:
        yield running


@pytest.mark.parametrize("stream", [False, True])
def test_not_logged_in_is_401_with_how_to_log_in(logged_out_proxy: Proxy, mock: MockAnthropic, stream: bool) -> None:
    started = time.monotonic()
    response = httpx.post(
        f"{logged_out_proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {logged_out_proxy.master_key}"},
        json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "stream": stream},
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 401, response.text
    assert "claude setup-token" in response.text
    assert "authenticate-claude.sh" in response.text
    assert elapsed < 5, elapsed
    assert mock.requests == []  # the decoy ANTHROPIC_API_KEY was not used to call upstream


def test_health_reports_the_missing_login_without_calling_claude(logged_out_proxy: Proxy, mock: MockAnthropic) -> None:
    response = httpx.get(
        f"{logged_out_proxy.url}/health",
        headers={"Authorization": f"Bearer {logged_out_proxy.master_key}"},
        params={"model": "sonnet"},
        timeout=30,
    )
    assert response.status_code == 503, response.text  # LiteLLM: any unhealthy endpoint
    body = response.json()
    assert body["healthy_count"] == 0
    assert body["unhealthy_count"] >= 1
    assert "claude setup-token" in str(body["unhealthy_endpoints"])
    assert mock.requests == []
    assert mock.other_requests == []
