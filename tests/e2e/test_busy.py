"""Past a deployment's session cap and queue, callers get a clean 429 with Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.anthropic_mock import MockAnthropic, Reply

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


async def _fire(proxy: Proxy, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    body = {"model": "opus", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(timeout=60) as client:
        calls = [client.post(f"{proxy.url}/v1/chat/completions", headers=headers, json=body) for _ in range(count)]
        return list(await asyncio.gather(*calls))


def test_past_the_queue_is_429_with_retry_after(capped_proxy: Proxy, mock: MockAnthropic) -> None:
    mock.default = Reply(chunks=["slow"], first_byte_delay=1.5)
    try:
        responses = asyncio.run(_fire(capped_proxy, 4))
    finally:
        mock.default = Reply()
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 429}, [r.text for r in responses]
    assert statuses.count(200) >= 1
    limited = [r for r in responses if r.status_code == 429]
    assert limited, statuses
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert all("busy" in r.text or "became free" in r.text or "cooldown" in r.text for r in limited)
    # and the deployment serves again once the load is gone (after the router's cooldown)
    deadline = time.monotonic() + 20
    while (again := asyncio.run(_fire(capped_proxy, 1))[0]).status_code == 429 and time.monotonic() < deadline:
        time.sleep(int(again.headers.get("retry-after", "1")))
    assert again.status_code == 200, again.text
