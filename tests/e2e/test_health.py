"""Health endpoints are cheap: no Claude Code process, nothing sent upstream."""

from __future__ import annotations

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy, cli_processes, settled_cli_processes

pytestmark = pytest.mark.e2e

# claude-* is probed as claude-sonnet-5-5 (its health_check_model)
MODELS = {"sonnet", "opus", "haiku", "claude-3-5-haiku-20241022", "claude-sonnet-5-5", "default"}


def _get(proxy: Proxy, path: str) -> httpx.Response:
    return httpx.get(f"{proxy.url}{path}", headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=30)


def test_health_probes_every_model_without_starting_claude(proxy: Proxy, mock: MockAnthropic) -> None:
    before = settled_cli_processes(proxy)
    response = _get(proxy, "/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["unhealthy_count"] == 0, body["unhealthy_endpoints"]
    assert {endpoint["model"].removeprefix("claude-code/") for endpoint in body["healthy_endpoints"]} == MODELS
    assert set(cli_processes(proxy.process.pid)) <= before
    assert mock.requests == []
    assert mock.other_requests == []


@pytest.mark.parametrize("path", ["/health/liveliness", "/health/readiness"])
def test_liveness_and_readiness_start_nothing(proxy: Proxy, mock: MockAnthropic, path: str) -> None:
    before = settled_cli_processes(proxy)
    response = _get(proxy, path)
    assert response.status_code == 200, response.text
    assert set(cli_processes(proxy.process.pid)) <= before
    assert mock.requests == []
    assert mock.other_requests == []
