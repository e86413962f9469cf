"""How an answer ends: completion, finish reason and usage from the stream's facts."""

from __future__ import annotations

import pytest
from litellm.types.utils import Usage

from litellm_claude_code.translate.ending import Ending

from ..sdk_messages import result


@pytest.mark.parametrize(
    ("streamed", "whole", "final", "cut", "reason"),
    [
        (None, None, "end_turn", False, "stop"),
        ("end_turn", None, "end_turn", False, "stop"),
        ("max_tokens", None, None, False, "length"),
        ("tool_use", None, "tool_use", False, "tool_calls"),
        ("stop_sequence", None, "end_turn", False, "stop"),
        ("end_turn", None, "end_turn", True, "stop"),  # a stop sequence the provider cut at
        ("tool_use", None, "tool_use", True, "stop"),
        (None, "tool_use", "end_turn", False, "tool_calls"),  # a whole message's stop reason counts too
        ("end_turn", None, "tool_deferred", False, "stop"),  # the message's own stop reason comes first
        (None, None, "tool_deferred", False, "tool_calls"),  # a PreToolUse hook deferred the client's tool call
        (None, None, None, False, "stop"),
    ],
)
def test_finish_reason(streamed: str | None, whole: str | None, final: str | None, cut: bool, reason: str) -> None:
    ending = Ending()
    ending.stopped(streamed, streamed=True)
    ending.stopped(whole, streamed=False)
    if final is not None:
        ending.ended(result(stop_reason=final))
    assert ending.finish_reason(cut) == reason


@pytest.mark.parametrize(
    ("stop_reason", "streamed", "complete"),
    [("max_tokens", True, True), ("max_tokens", False, False), ("end_turn", True, False), ("tool_use", True, False)],
)
def test_only_a_streamed_max_tokens_stop_ends_the_answer_before_its_result(
    stop_reason: str, streamed: bool, complete: bool
) -> None:
    ending = Ending()
    ending.stopped(stop_reason, streamed=streamed)
    assert ending.complete is complete
    ending.ended(result())
    assert ending.complete


def test_usage_is_the_results_else_the_streamed_messages() -> None:
    ending = Ending()
    ending.counted(Usage(prompt_tokens=5, completion_tokens=9, total_tokens=14))
    assert (ending.usage().prompt_tokens, ending.usage().completion_tokens) == (5, 9)
    ending.ended(result({"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 3}))
    assert (ending.usage().prompt_tokens, ending.usage().completion_tokens) == (14, 7)
    assert (Ending().usage().prompt_tokens, Ending().usage().completion_tokens) == (0, 0)


@pytest.mark.parametrize(
    ("final", "is_error", "settled"),
    [
        ("end_turn", False, "end_turn"),
        (None, False, "end_turn"),
        ("tool_deferred", False, "tool_deferred"),
        ("max_tokens", False, None),
        ("end_turn", True, None),
        ("tool_deferred", True, None),
    ],
)
def test_settled_is_an_error_free_end_turn_or_deferred_result(
    final: str | None, is_error: bool, settled: str | None
) -> None:
    ending = Ending()
    assert ending.settled is None
    ending.ended(result(stop_reason=final, is_error=is_error))  # type: ignore[arg-type]  # None: a result without one
    assert ending.settled == settled
