"""Two proxy replicas sharing one PostgreSQL database and one Redis.

LiteLLM keeps spend counters and rate-limit windows in Redis when it has a
coordination Redis (``general_settings.coordination_redis``), and the router its
deployment state (``router_settings.redis_host``/``redis_port``). Spend made on one
replica must then count on the other, and a key's rpm_limit holds across both.

Every Redis key these proxies write lies under a namespace unique to the run, which
is deleted at the end (nothing else in the Redis is touched).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import openai
import pytest
import redis
from openai.types.chat import ChatCompletionMessageParam

from tests.anthropic_mock import MockAnthropic, Reply
from tests.e2e.harness import Proxy, claude_env, run_proxy

from .conftest import derived_config, generate_key, key_info, list_price, wait_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def redis_namespace() -> Iterator[str]:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"needs Redis at {REDIS_HOST}:{REDIS_PORT}: {error}")
    namespace = f"litellm_test_{secrets.token_hex(6)}"
    try:
        yield namespace
    finally:
        for key in client.scan_iter(match=f"{namespace}:*", count=500):
            client.delete(key)
        client.close()


def _shared_redis(namespace: str) -> Callable[[dict[str, Any]], None]:
    """The config change for shared state: LiteLLM's coordination Redis, the router's Redis."""

    def tweak(config: dict[str, Any]) -> None:
        redis_params = {"host": REDIS_HOST, "port": REDIS_PORT, "namespace": namespace}
        config["general_settings"]["coordination_redis"] = redis_params
        config["general_settings"]["use_redis_transaction_buffer"] = True
        router = config.setdefault("router_settings", {})
        router.update({"redis_host": REDIS_HOST, "redis_port": REDIS_PORT, "cache_kwargs": {"namespace": namespace}})

    return tweak


@pytest.fixture(scope="module")
def replicas(
    mock: MockAnthropic, db_env: dict[str, str], redis_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    """Replicas A and B: same config, database, Redis and master key; own homes and ports.

    Started side by side (each takes several seconds to start).
    """
    master_key = f"sk-{secrets.token_urlsafe(24)}"
    starting = []
    for name in ("a", "b"):
        home = tmp_path_factory.mktemp(f"replica-{name}")
        config = derived_config(home / "litellm_config.yaml", _shared_redis(redis_namespace))
        env = {**claude_env(home, mock.url), **db_env}
        starting.append(run_proxy(home, env, config, master_key=master_key))
    with ExitStack() as stack:
        with ThreadPoolExecutor(len(starting)) as pool:
            futures = [pool.submit(manager.__enter__) for manager in starting]
        for manager, future in zip(starting, futures, strict=True):
            if future.exception() is None:
                stack.push(manager.__exit__)
        a, b = (future.result() for future in futures)  # the first start-up failure, if any
        yield a, b


def _client(proxy: Proxy, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0, timeout=60)


def _ask(proxy: Proxy, key: str) -> None:
    assert _client(proxy, key).chat.completions.create(model="sonnet", messages=USER).choices[0].message.content


def test_spend_on_one_replica_is_enforced_on_the_other(replicas: tuple[Proxy, Proxy], mock: MockAnthropic) -> None:
    a, b = replicas
    costly = Reply(input_tokens=10, output_tokens=40_000)
    # Spend is priced at the model that answered: what the sonnet alias resolves to.
    answered_by = _client(a, a.master_key).chat.completions.create(model="sonnet", messages=USER).model
    cost = list_price(costly, answered_by)
    mock.reset()
    mock.script(costly, costly)
    key = generate_key(a.url, a.master_key, max_budget=1.5 * cost)

    _ask(b, key)  # B now knows the key, under its budget
    _ask(a, key)  # allowed (A sees B's spend, still under budget); now over it, B having served nothing since
    wait_for(lambda: key_info(b.url, b.master_key, key)["spend"] > 1.5 * cost, "B to see the spend made on A")
    assert key_info(b.url, b.master_key, key)["spend"] == pytest.approx(2 * cost, rel=1e-9)

    with pytest.raises(openai.APIStatusError) as refused:
        _ask(b, key)
    assert refused.value.status_code == 422, refused.value.response.text
    assert refused.value.response.json()["error"]["type"] == "budget_exceeded"
    assert len(mock.requests) == 2


def test_rpm_limit_holds_across_replicas(replicas: tuple[Proxy, Proxy], mock: MockAnthropic) -> None:
    a, b = replicas
    key = generate_key(a.url, a.master_key, rpm_limit=2)

    _ask(a, key)
    _ask(b, key)
    for proxy in (a, b):  # the third request of the minute, on either replica
        with pytest.raises(openai.RateLimitError) as limited:
            _ask(proxy, key)
        response = limited.value.response
        assert response.status_code == 429
        assert response.json()["error"]["type"] == "throttling_error"
        assert "Limit type: requests. Current limit: 2, Remaining: 0" in response.json()["error"]["message"]
        assert int(response.headers["retry-after"]) > 0
    assert len(mock.requests) == 2
