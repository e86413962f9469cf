"""Past a deployment's session cap and queue, callers get a clean 429 with Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.anthropic_mock import Gate, MockAnthropic, Reply

from .harness import CONFIG, Proxy, claude_env, run_proxy

pytestmark = pytest.mark.e2e

LIMITS = {"max_concurrent": 1, "max_queue": 1, "queue_timeout": 1}


@pytest.fixture(scope="module")
def capped_proxy(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    home: Path = tmp_path_factory.mktemp("capped-home")
    config = yaml.safe_load(CONFIG.read_text())
    for entry in config["model_list"]:
        entry["model_info"]["claude_code"] = dict(LIMITS)
    config["router_settings"]["fallbacks"] = []  # see the 429 itself, not a fallback
    path = home / "capped.yaml"
    path.write_text(yaml.safe_dump(config))
    with run_proxy(home, claude_env(home, mock.url), config=path) as running:
        yield running


async def _post(client: httpx.AsyncClient, proxy: Proxy) -> httpx.Response:
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    body = {"model": "opus", "messages": [{"role": "user", "content": "hi"}]}
    return await client.post(f"{proxy.url}/v1/chat/completions", headers=headers, json=body)


async def _past_the_cap(proxy: Proxy, mock: MockAnthropic, gate: Gate) -> tuple[httpx.Response, list[httpx.Response]]:
    """One request holding the deployment's only session upstream, and three more meanwhile."""
    async with httpx.AsyncClient(timeout=60) as client:
        first = asyncio.ensure_future(_post(client, proxy))
        try:
            await asyncio.to_thread(mock.wait_for_requests, 1)  # its turn is under way: the session is taken
            # one waits in the queue (for its 1 s bound), the queue is full for the other two
            others = list(await asyncio.gather(*(_post(client, proxy) for _ in range(3))))
        finally:
            gate.open()
        return await first, others


def test_past_the_queue_is_429_with_retry_after(capped_proxy: Proxy, mock: MockAnthropic) -> None:
    gate = Gate()
    mock.default = Reply(chunks=["slow"], gate=gate)  # the model answers once the test has seen the 429s
    try:
        first, limited = asyncio.run(_past_the_cap(capped_proxy, mock, gate))
    finally:
        gate.open()
        mock.default = Reply()
    assert first.status_code == 200, first.text
    assert [r.status_code for r in limited] == [429, 429, 429], [r.text for r in limited]
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    # the queued one gave up at its bound; the queue was full for the other two
    assert sorted(_reason(r) for r in limited) == ["queue full", "queue full", "waited 1s"], [r.text for r in limited]
    # and the deployment serves again once the load is gone (after the router's cooldown): a
    # client that waits what Retry-After says is served, within a bound
    deadline = time.monotonic() + 20
    while (again := asyncio.run(_fire_one(capped_proxy))).status_code == 429 and time.monotonic() < deadline:
        time.sleep(int(again.headers.get("retry-after", "1")))  # the wait the proxy asked for
    assert again.status_code == 200, again.text


def _reason(response: httpx.Response) -> str:
    if "no Claude Code session of this deployment became free within 1s" in response.text:
        return "waited 1s"
    if "all 1 Claude Code sessions of this deployment are busy and 1 requests are queued" in response.text:
        return "queue full"
    return response.text


async def _fire_one(proxy: Proxy) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await _post(client, proxy)
