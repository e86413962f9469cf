"""counters: requests by the status the client got, tokens by deployment and kind (issue 19)."""

from __future__ import annotations

from collections.abc import Generator

import litellm
import pytest
from litellm.llms.anthropic.chat.transformation import AnthropicConfig

from litellm_claude_code.counters import Outcomes, Tokens


def usage(input_tokens: int, read: int, written: int, output: int) -> object:
    """A LiteLLM Usage made from an Anthropic one, as the provider's answers carry it."""
    raw = {
        "input_tokens": input_tokens,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
        "output_tokens": output,
    }
    return AnthropicConfig().calculate_usage(usage_object=raw, reasoning_content=None)


def test_requests_are_counted_by_the_status_the_client_got() -> None:
    outcomes = Outcomes()
    with outcomes.counted():
        pass
    with pytest.raises(litellm.RateLimitError), outcomes.counted():
        raise litellm.RateLimitError("busy", llm_provider="claude-code", model="sonnet")
    with pytest.raises(ValueError, match="bug"), outcomes.counted():  # no status of its own: a 500
        raise ValueError("bug")

    def streamed() -> Generator[int, None, None]:
        with outcomes.counted():
            yield 1
            yield 2

    stream = streamed()
    next(stream)
    stream.close()  # the client went away mid-answer
    assert outcomes.by_status == {200: 1, 429: 1, 500: 1, 499: 1}


def test_tokens_add_up_per_deployment_and_kind_the_cache_apart_from_input() -> None:
    """LiteLLM's prompt tokens include what the cache read and wrote: ``input`` is the rest."""
    tokens = Tokens()
    tokens.count("account-a", usage(5, 100, 30, 7))
    tokens.count("account-a", usage(2, 130, 9, 4))
    tokens.count("account-b", usage(50, 0, 0, 1))
    assert tokens.by_deployment == {
        "account-a": {"input": 7, "cache_read": 230, "cache_write": 39, "output": 11},
        "account-b": {"input": 50, "cache_read": 0, "cache_write": 0, "output": 1},
    }
