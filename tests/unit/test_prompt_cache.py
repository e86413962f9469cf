"""The mock's model of Anthropic's prompt cache (tests/prompt_cache.py), against the API's documented rules."""

from __future__ import annotations

from typing import Any

import httpx

from tests.anthropic_mock import MockAnthropic
from tests.prompt_cache import LOOKBACK_BLOCKS, PromptCache, blocks, shared_prefix

HOUR = {"type": "ephemeral", "ttl": "1h"}
FIVE = {"type": "ephemeral"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def text(value: str, marker: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": value}
    if marker:
        block["cache_control"] = marker
    return block


def request(*turns: str, marked: int = -1, tools: bool = True) -> dict[str, Any]:
    """Alternating user/assistant text turns; the breakpoint on turn ``marked`` (system always has one)."""
    messages = []
    for index, turn in enumerate(turns):
        marker = FIVE if index == (marked % len(turns)) else None
        messages.append({"role": "user" if index % 2 == 0 else "assistant", "content": [text(turn, marker)]})
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "system": [text("You are a helpful assistant." * 10, HOUR)],
        "messages": messages,
    }
    if tools:
        body["tools"] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    return body


def tokens(body: dict[str, Any], upto: int | None = None) -> int:
    return sum(b.tokens for b in blocks(body)[:upto])


def test_a_first_request_writes_up_to_its_last_breakpoint_and_pays_the_rest_as_input() -> None:
    body = request("first question " * 20, "answer", "second question")
    body["messages"][-1]["content"].append(text("after the breakpoint"))
    usage = PromptCache().serve("account-a", body)
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation_1h == tokens(body, 2)  # tool and system, up to the system's 1h breakpoint
    assert usage.cache_creation_5m == tokens(body, 5) - tokens(body, 2)
    assert usage.input_tokens == tokens(body) - tokens(body, 5)
    assert usage.input_tokens + usage.cache_creation_input_tokens == tokens(body)


def test_an_extended_request_reads_what_the_previous_one_wrote() -> None:
    cache = PromptCache()
    first = request("question one", "answer one", "question two")
    cache.serve("a", first)
    second = request("question one", "answer one", "question two", "answer two", "question three")
    usage = cache.serve("a", second)
    assert usage.cache_read_input_tokens == tokens(first)
    assert usage.cache_creation_input_tokens == tokens(second) - tokens(first)
    assert usage.input_tokens == 0


def test_a_difference_early_in_the_messages_reads_only_tools_and_system() -> None:
    cache = PromptCache()
    cache.serve("a", request("question one", "answer one", "question two"))
    moved = request("question one (edited)", "answer one", "question two", "answer two", "question three")
    usage = cache.serve("a", moved)
    assert usage.cache_read_input_tokens == tokens(moved, 2)


def test_cache_markers_do_not_change_the_prefix() -> None:
    cache = PromptCache()
    cache.serve("a", request("q1", "a1", "q2", marked=2))
    later = request("q1", "a1", "q2", "a2", "q3", marked=4)
    assert cache.serve("a", later).cache_read_input_tokens == tokens(later, 5)


def test_caches_are_per_account_and_per_model() -> None:
    cache = PromptCache()
    body = request("q1", "a1", "q2")
    cache.serve("a", body)
    assert cache.serve("b", body).cache_read_input_tokens == 0
    assert cache.serve("a", {**body, "model": "claude-opus-4-1"}).cache_read_input_tokens == 0
    assert cache.serve("a", body).cache_read_input_tokens == tokens(body)


def test_entries_expire_after_their_ttl_and_a_hit_refreshes_them() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    body = request("q1", "a1", "q2")
    cache.serve("a", body)
    clock.now += 299
    assert cache.serve("a", body).cache_read_input_tokens == tokens(body)  # refreshed for 5 more minutes
    clock.now += 299
    assert cache.serve("a", body).cache_read_input_tokens == tokens(body)
    clock.now += 301
    # The 5-minute entries are gone; the system prompt's 1-hour one is not.
    assert cache.serve("a", body).cache_read_input_tokens == tokens(body, 2)
    clock.now += 3600
    assert cache.serve("a", body).cache_read_input_tokens == 0


def test_a_written_prefix_more_than_20_blocks_before_every_breakpoint_is_not_found() -> None:
    cache = PromptCache()
    turns = [f"turn {i}" for i in range(5)]
    cache.serve("a", request(*turns))
    far = [*turns, *(f"more {i}" for i in range(LOOKBACK_BLOCKS + 2))]
    assert cache.serve("a", request(*far)).cache_read_input_tokens == tokens(request(*far), 2)
    near = [*turns, *(f"more {i}" for i in range(LOOKBACK_BLOCKS - 2))]
    assert cache.serve("a", request(*near)).cache_read_input_tokens == tokens(request(*turns))


def test_a_prefix_under_the_minimum_is_not_written() -> None:
    body = request("q1", "a1", "q2", tools=False)
    usage = PromptCache(minimum_tokens=10**6).serve("a", body)
    assert usage.cache_creation_input_tokens == 0
    assert usage.input_tokens == tokens(body)


def test_shared_prefix_counts_the_tokens_a_later_request_repeats() -> None:
    first = request("q1", "a1", "q2")
    assert shared_prefix(first, request("q1", "a1", "q2", "a2", "q3")) == (tokens(first), tokens(first))
    assert shared_prefix(first, request("q1 edited", "a1", "q2"))[0] == tokens(first, 2)


def test_the_mock_answers_with_the_cache_usage_and_records_it() -> None:
    with MockAnthropic() as mock:
        mock.enable_prompt_cache()
        body = {**request("q1", "a1", "q2"), "max_tokens": 10}
        headers = {"authorization": "Bearer token-a"}
        first = httpx.post(f"{mock.url}/v1/messages", json=body, headers=headers).json()["usage"]
        again = httpx.post(f"{mock.url}/v1/messages", json=body, headers=headers).json()["usage"]
        other = httpx.post(f"{mock.url}/v1/messages", json=body, headers={"authorization": "Bearer b"}).json()
        assert first["cache_read_input_tokens"] == 0
        assert first["cache_creation_input_tokens"] == tokens(body)
        assert again["cache_read_input_tokens"] == tokens(body)
        assert again["input_tokens"] == 0
        assert other["usage"]["cache_read_input_tokens"] == 0
        assert [r.usage for r in mock.requests] == [
            {k: v for k, v in u.items() if k != "output_tokens"} for u in (first, again, other["usage"])
        ]
        mock.reset()  # off again: the scripted figures
        plain = httpx.post(f"{mock.url}/v1/messages", json=body, headers=headers).json()["usage"]
        assert plain["input_tokens"] == 12
        assert plain["cache_read_input_tokens"] == 0
