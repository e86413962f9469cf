"""Anthropic's prompt cache, as the API documents it, for the mock (issue 19).

What the documentation says, and what this model does:

* A request's prefix runs in a fixed order: ``tools``, then ``system``, then
  ``messages``; every content block is a unit of it.
* A ``cache_control`` breakpoint on a block writes the prefix up to and
  including that block to the cache, for its ``ttl`` (``5m`` unless ``1h``).
* A later request reads the longest written prefix it repeats exactly. The
  API looks for it at each of the request's breakpoints and up to 20 blocks
  before each (``LOOKBACK_BLOCKS``); a hit refreshes the entry's lifetime.
* Caches are per organisation (here: per account, told by its token) and per
  model.
* ``usage`` says what happened: ``cache_read_input_tokens`` (the prefix read),
  ``cache_creation_input_tokens`` (from there to the last breakpoint, written
  now, split by TTL in ``cache_creation``) and ``input_tokens`` (what follows
  the last breakpoint).
* Prefixes shorter than a model's minimum are not cached. The minimum
  (1,024 tokens for Sonnet and Opus) is a parameter here, 0 by default: the
  tests' conversations are far shorter than real ones.

Tokens are counted as a quarter of a block's JSON bytes (at least one), the
same way for every request, so figures compare across requests.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class Block:
    """One unit of a request's prefix, without its ``cache_control``."""

    tokens: int
    digest: str  # of the prefix that ends with this block
    ttl: str | None  # this block's breakpoint, if it has one


@dataclass(frozen=True)
class CacheUsage:
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_5m: int
    cache_creation_1h: int

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m + self.cache_creation_1h

    def as_usage(self) -> dict[str, Any]:
        """The fields of the API's ``usage`` this model decides."""
        return {
            "input_tokens": self.input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m,
                "ephemeral_1h_input_tokens": self.cache_creation_1h,
            },
        }


def tokens_of(unit: Any) -> int:
    return max(1, len(json.dumps(unit, sort_keys=True, ensure_ascii=False)) // 4)


def _without_marker(block: Any) -> Any:
    return {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block


def _ttl(block: Any) -> str | None:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(control, dict):
        return None
    return "1h" if control.get("ttl") == "1h" else "5m"


def units(body: dict[str, Any]) -> list[tuple[Any, str | None]]:
    """The request's prefix in the API's order, each unit with its breakpoint's TTL (or None)."""
    found: list[tuple[Any, str | None]] = []
    for tool in body.get("tools") or []:
        found.append((("tool", _without_marker(tool)), _ttl(tool)))
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        found.append((("system", _without_marker(block)), _ttl(block)))
    for index, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if not blocks:  # an empty message still separates its neighbours
            found.append((("message", index, message.get("role"), None), None))
        for position, block in enumerate(blocks):
            # The message's role and where it starts are part of the prefix.
            found.append((("message", message.get("role"), position == 0, _without_marker(block)), _ttl(block)))
    return found


def blocks(body: dict[str, Any]) -> list[Block]:
    """The request's prefix as blocks, each with the digest of everything up to it."""
    running = hashlib.sha256(str(body.get("model")).encode())
    result = []
    for unit, ttl in units(body):
        encoded = json.dumps(unit, sort_keys=True, ensure_ascii=False)
        running.update(encoded.encode())
        result.append(Block(max(1, len(encoded) // 4), running.copy().hexdigest(), ttl))
    return result


class PromptCache:
    """Written prefixes per account, with their expiry; thread-safe (the mock serves from a thread)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, minimum_tokens: int = 0) -> None:
        self._clock, self._minimum = clock, minimum_tokens
        self._entries: dict[tuple[str, str], float] = {}  # (account, prefix digest) -> expires at
        self._lock = threading.Lock()

    def serve(self, account: str, body: dict[str, Any]) -> CacheUsage:
        """What the request reads from and writes to the cache, as its ``usage`` would say."""
        prefix = blocks(body)
        with self._lock:
            now = self._clock()
            read_end = self._longest_hit(account, prefix, now)  # blocks read: prefix[:read_end]
            written = {"5m": 0, "1h": 0}
            start = read_end
            breakpoints = [i for i, block in enumerate(prefix) if block.ttl is not None]
            for index in breakpoints:
                ttl = prefix[index].ttl
                assert ttl is not None
                if index < read_end:
                    continue
                covered = sum(b.tokens for b in prefix[: index + 1])
                if covered < self._minimum:
                    continue  # too short to cache: billed as input
                written[ttl] += sum(b.tokens for b in prefix[start : index + 1])
                start = index + 1
                key = (account, prefix[index].digest)
                self._entries[key] = max(self._entries.get(key, 0.0), now + TTL_SECONDS[ttl])
            read = sum(b.tokens for b in prefix[:read_end])
            rest = sum(b.tokens for b in prefix[start:])
        return CacheUsage(rest, read, written["5m"], written["1h"])

    def _longest_hit(self, account: str, prefix: list[Block], now: float) -> int:
        """How many blocks of the longest written prefix the request repeats (0: none)."""
        best = 0
        for index, block in enumerate(prefix):
            if block.ttl is None:
                continue
            for back in range(index, max(-1, index - LOOKBACK_BLOCKS - 1), -1):
                if back + 1 <= best:
                    break
                key = (account, prefix[back].digest)
                expires = self._entries.get(key)
                if expires is not None and expires > now:
                    best = back + 1
                    break
        if best:
            # A hit refreshes the entry's lifetime (at least what it had).
            key = (account, prefix[best - 1].digest)
            self._entries[key] = max(self._entries[key], now + TTL_SECONDS["5m"])
        return best

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def shared_prefix(earlier: dict[str, Any], later: dict[str, Any]) -> tuple[int, int]:
    """(tokens of ``earlier`` that ``later`` repeats from the start, tokens of ``earlier``): markers ignored."""
    a, b = blocks(earlier), blocks(later)
    same = 0
    for x, y in zip(a, b, strict=False):
        if x.digest != y.digest:
            break
        same += x.tokens
    return same, sum(x.tokens for x in a)
