"""The CLI process of a request ends when the client goes away or the deadline passes."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import Proxy, cli_processes, wait_for_no_cli

pytestmark = pytest.mark.e2e


def _post(proxy: Proxy, **body: object) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json={"model": "opus", "messages": [{"role": "user", "content": "hi"}], **body},
        timeout=60,
    )


def test_client_disconnect_stops_the_cli(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=[f"part{i} " for i in range(40)], delay=0.25))
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    body = {"model": "opus", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", headers=headers, json=body, timeout=30) as response:
        for line in response.iter_lines():
            if "part0" in line:
                break
        assert cli_processes(proxy.process.pid), "the CLI should be running mid-stream"
    disconnected = time.monotonic()
    assert wait_for_no_cli(proxy.process.pid, within=5) == []
    assert time.monotonic() - disconnected < 5
    assert _post(proxy).status_code == 200  # and the next request is served


def test_deadline_stops_the_cli(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(Reply(hang=True))
    assert _post(proxy, timeout=2).status_code == 408
    assert wait_for_no_cli(proxy.process.pid, within=5) == []
