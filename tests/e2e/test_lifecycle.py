"""The CLI process of a request ends when the client goes away or the deadline passes."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Reply
from tests.waiting import wait_until

from .harness import Proxy, cli_processes, module_proxy, settled_cli_processes

pytestmark = pytest.mark.e2e


proxy = module_proxy("lifecycle", "no other test's sessions around the ones watched here")


def _messages() -> list[dict[str, str]]:
    # A system prompt of its own: no kept conversation matches it.
    return [{"role": "system", "content": f"lifecycle {uuid.uuid4()}"}, {"role": "user", "content": "hi"}]


def _post(proxy: Proxy, **body: object) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json={"model": "opus", "messages": _messages(), **body},
        timeout=60,
    )


def _ended(proxy: Proxy, during: set[int], within: float) -> set[int]:
    """Wait until a process of ``during`` (those running while the one request was under way) is gone;
    those gone.

    The request's own process is among ``during``; which one is not visible from outside when it
    took a spare started before it (the default config keeps spares), so the test waits for one to
    end. A process kept after its request instead of stopped never ends: the wait times out.
    """
    return wait_until(lambda: during - set(cli_processes(proxy.process.pid)), within, "the request's process to end")


def test_client_disconnect_stops_the_cli(proxy: Proxy, mock: MockAnthropic) -> None:
    # the default reply, not a scripted one: a straggler from another test cannot take it
    mock.default = Reply(chunks=[f"part{i} " for i in range(40)], delay=0.25)
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    body = {"model": "opus", "messages": _messages(), "stream": True}
    settled_cli_processes(proxy)
    with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", headers=headers, json=body, timeout=30) as response:
        # Held: a line iterator dropped mid-stream is closed, and httpx closes the connection with
        # it (the disconnect this test makes only once it has looked).
        lines = response.iter_lines()
        for line in lines:
            if "part0" in line:
                break
        during = set(cli_processes(proxy.process.pid))
    disconnected = time.monotonic()
    assert len(_ended(proxy, during, within=5)) == 1
    assert time.monotonic() - disconnected < 2
    settled_cli_processes(proxy)
    assert [p for d in proxy.workdirs for p in d.rglob("*")] == []
    mock.default = Reply()
    assert _post(proxy).status_code == 200  # and the next request is served


def test_deadline_stops_the_cli(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.default = Reply(hang=True)
    settled_cli_processes(proxy)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_post, proxy, timeout=2)
        mock.wait_for_requests(1)  # the turn is under way upstream
        during = set(cli_processes(proxy.process.pid))
        assert answer.result().status_code == 408
    assert len(_ended(proxy, during, within=5)) == 1
