"""Which account served a conversation before (issue 20), shared by replicas through LiteLLM's Redis.

A chat request carries its whole conversation, so a conversation is known by
how it begins: the model name, its system prompt and its first user turn. A
request with no assistant turn yet starts a conversation; any other continues
one. (Two conversations that begin alike share an account, which is what their
common prompt-cache prefix wants anyway.)

The choice lives in the router's Redis (``router_settings.redis_host`` or
``redis_url``) when the proxy has one, so every replica sends a conversation's
later turns to the same account, and in this process's memory as well (the
only store without Redis, the fallback when Redis fails).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

KEY_PREFIX = "claude_code:affinity:"
TTL_SECONDS = 5 * 3600  # a conversation idle for a whole 5-hour window starts afresh
MEMORY_ENTRIES = 50_000


class Store(Protocol):
    """The part of LiteLLM's RedisCache used here."""

    async def async_get_cache(self, key: str, **kwargs: Any) -> Any: ...

    async def async_set_cache(self, key: str, value: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Conversation:
    key: str
    continuing: bool  # an assistant turn is in it already


def _role(message: object) -> str | None:
    role = message.get("role") if isinstance(message, Mapping) else None
    return role if isinstance(role, str) else None


def conversation_of(model: str, messages: object) -> Conversation | None:
    """How a chat request's conversation is known; None for a request without chat messages."""
    if not isinstance(messages, list):
        return None
    system = [m.get("content") for m in messages if _role(m) in ("system", "developer")]
    first = next((m.get("content") for m in messages if _role(m) == "user"), None)
    if first is None:
        return None
    text = json.dumps([model, system[:1], first], sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:40]
    continuing = any(_role(m) in ("assistant", "tool") for m in messages)
    return Conversation(KEY_PREFIX + digest, continuing)


def router_redis() -> Store | None:
    """The running proxy's router Redis, when it has one (read where the proxy keeps its router)."""
    proxy_server = sys.modules.get("litellm.proxy.proxy_server")
    router = getattr(proxy_server, "llm_router", None)
    store = getattr(getattr(router, "cache", None), "redis_cache", None)
    return store if store is not None else None


class Affinity:
    """Conversation -> the deployment that serves it."""

    def __init__(
        self,
        shared: Callable[[], Store | None] = router_redis,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared, self._clock = shared, clock
        self._memory: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def get(self, key: str) -> str | None:
        store = self._shared()
        if store is not None:
            try:
                value = await store.async_get_cache(key)
            except Exception as error:  # Redis down: this replica's memory still holds its own choices
                logger.warning("affinity: Redis read failed (%s); using this replica's memory", error)
            else:
                if isinstance(value, str):
                    return value
        entry = self._memory.get(key)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    async def set(self, key: str, deployment: str) -> None:
        self._memory[key] = (deployment, self._clock() + TTL_SECONDS)
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)
        store = self._shared()
        if store is None:
            return
        try:
            await store.async_set_cache(key, deployment, ttl=TTL_SECONDS)
        except Exception as error:
            logger.warning("affinity: Redis write failed (%s); kept in this replica's memory only", error)
