"""A conversation's account, in this process and in a shared store."""

from __future__ import annotations

import asyncio
from typing import Any

from litellm_claude_code.proxy.affinity import TTL_SECONDS, Affinity, conversation_of


class FakeRedis:
    """The two calls of LiteLLM's RedisCache the affinity uses; ``broken`` fails them as Redis down would."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.broken = False

    async def async_get_cache(self, key: str, **kwargs: Any) -> Any:
        if self.broken:
            raise ConnectionError("redis down")
        return self.values.get(key)

    async def async_set_cache(self, key: str, value: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise ConnectionError("redis down")
        self.values[key] = value


def test_a_conversation_is_known_by_how_it_begins() -> None:
    first = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    later = [*first, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]
    start, going = conversation_of("sonnet", first), conversation_of("sonnet", later)
    assert start is not None
    assert going is not None
    assert (start.key, start.continuing, going.continuing) == (going.key, False, True)
    assert conversation_of("opus", later) != going  # another model, another conversation
    other = conversation_of("sonnet", [{"role": "system", "content": "be long"}, *later[1:]])
    assert other is not None
    assert other.key != going.key
    assert conversation_of("sonnet", None) is None
    assert conversation_of("sonnet", [{"role": "system", "content": "x"}]) is None


def test_replicas_sharing_a_store_agree_and_memory_covers_a_failing_one() -> None:
    shared = FakeRedis()
    one, two = Affinity(lambda: shared), Affinity(lambda: shared)

    async def run() -> None:
        await one.set("k", "account-b")
        assert await two.get("k") == "account-b"  # another replica's choice
        await two.set("k", "account-a")  # moved there
        assert await one.get("k") == "account-a"  # the store wins over this replica's memory
        shared.broken = True
        assert await one.get("k") == "account-b"  # Redis down: this replica's own memory
        await one.set("k2", "account-a")  # a failed write is not the request's failure
        assert await one.get("k2") == "account-a"

    asyncio.run(run())


def test_memory_entries_expire() -> None:
    now = [0.0]
    alone = Affinity(lambda: None, clock=lambda: now[0])

    async def run() -> None:
        await alone.set("k", "account-a")
        assert await alone.get("k") == "account-a"
        now[0] = TTL_SECONDS + 1
        assert await alone.get("k") is None

    asyncio.run(run())
