"""The CLI process of a request ends when the client goes away or the deadline passes."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import Proxy, cli_processes, module_proxy, settled_cli_processes, wait_until_gone

pytestmark = pytest.mark.e2e


proxy = module_proxy("lifecycle", "no other test's sessions around the ones watched here")


def _messages() -> list[dict[str, str]]:
    # A system prompt of its own: no warm session matches, so the request gets
    # a process of its own and the test can watch exactly that one.
    return [{"role": "system", "content": f"lifecycle {uuid.uuid4()}"}, {"role": "user", "content": "hi"}]


def _post(proxy: Proxy, **body: object) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json={"model": "opus", "messages": _messages(), **body},
        timeout=60,
    )


def test_client_disconnect_stops_the_cli(proxy: Proxy, mock: MockAnthropic) -> None:
    # the default reply, not a scripted one: a straggler from another test cannot take it
    mock.default = Reply(chunks=[f"part{i} " for i in range(40)], delay=0.25)
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    body = {"model": "opus", "messages": _messages(), "stream": True}
    idle = settled_cli_processes(proxy)
    with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", headers=headers, json=body, timeout=30) as response:
        for line in response.iter_lines():
            if "part0" in line:
                break
        started = set(cli_processes(proxy.process.pid)) - idle  # the request's process
        assert started, "the request's process should be running mid-stream"
    disconnected = time.monotonic()
    assert wait_until_gone(proxy.process.pid, started, within=5) == set()
    assert time.monotonic() - disconnected < 2
    assert [p for d in proxy.workdirs for p in d.rglob("*")] == []
    mock.default = Reply()
    assert _post(proxy).status_code == 200  # and the next request is served


def test_deadline_stops_the_cli(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.default = Reply(hang=True)
    idle = settled_cli_processes(proxy)
    assert _post(proxy, timeout=2).status_code == 408
    assert wait_until_gone(proxy.process.pid, set(cli_processes(proxy.process.pid)) - idle, within=5) == set()
