"""The answer's filters: deltas in, exactly these deltas out (fed, then flushed at the answer's end)."""

from __future__ import annotations

from typing import Any

import pytest
from litellm.types.utils import Delta

from litellm_claude_code.errors import Failed, Failure
from litellm_claude_code.translate.filters import (
    Chain,
    Filter,
    JsonOutput,
    ReplyRecorder,
    StopSequences,
    ToolCallLimit,
)

from ..sdk_messages import result


def _run(step: Filter, fed: list[dict[str, Any]], end: Any = None) -> list[dict[str, Any]]:
    """Every delta ``step`` gives for ``fed`` and for the answer ending with result ``end``."""
    out = [delta for piece in fed for delta in step.feed(Delta(**piece))] + step.flush(end)
    return [delta.model_dump(exclude_none=True) for delta in out]


def _call(index: int, name: str = "get_weather", arguments: str = "{}", call_id: str | None = None) -> dict[str, Any]:
    function = {"name": name, "arguments": arguments}
    return {"id": call_id or f"toolu_{index}", "type": "function", "index": index, "function": function}


THINKING = {"reasoning_content": "hmm", "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "s"}]}


@pytest.mark.parametrize(
    ("limit", "fed", "sent"),
    [
        (1, [{"tool_calls": [_call(0), _call(1)]}], [{"tool_calls": [_call(0)]}]),
        (1, [{"tool_calls": [_call(0)]}, {"tool_calls": [_call(1)]}], [{"tool_calls": [_call(0)]}]),
        (2, [{"tool_calls": [_call(0), _call(1), _call(2)]}], [{"tool_calls": [_call(0), _call(1)]}]),
        (1, [{"content": "a"}, {"tool_calls": [_call(1)]}, {"content": "b"}], [{"content": "a"}, {"content": "b"}]),
        (1, [THINKING], [THINKING]),
    ],
    ids=["parallel-calls-cut", "later-call-dropped", "limit-two", "text-passes", "reasoning-passes"],
)
def test_tool_call_limit(limit: int, fed: list[dict[str, Any]], sent: list[dict[str, Any]]) -> None:
    assert _run(ToolCallLimit(limit), fed) == sent


@pytest.mark.parametrize(
    ("fed", "end", "sent"),
    [
        ([{"content": "Here:"}], result(structured_output={"a": 1}), [{"content": '{"a": 1}'}]),
        ([{"tool_calls": [_call(0, "StructuredOutput")]}], result(structured_output=[1]), [{"content": "[1]"}]),
        (
            [THINKING, {"content": "x"}],
            result(structured_output="é"),
            [{"reasoning_content": "hmm"}, {"content": '"é"'}],
        ),
        ([{"content": "cut"}], None, []),  # ended by max_tokens: no validated output
    ],
    ids=["text-replaced", "tool-call-replaced", "reasoning-kept-unicode-as-is", "cut-short"],
)
def test_json_output(fed: list[dict[str, Any]], end: Any, sent: list[dict[str, Any]]) -> None:
    assert _run(JsonOutput(), fed, end) == sent


def test_json_output_without_structured_output_fails() -> None:
    with pytest.raises(Failed) as caught:
        _run(JsonOutput(), [{"content": "no"}], result())
    assert caught.value.failure == Failure(
        status=502, message="Claude gave no output matching the response_format schema"
    )


@pytest.mark.parametrize(
    ("stops", "fed", "sent", "hit"),
    [
        (
            ("END",),
            [{"content": "one tw"}, {"content": "o EN"}, {"content": "D three"}],
            [{"content": "one tw"}, {"content": "o "}],
            True,
        ),
        (("END",), [{"content": "ends with E"}], [{"content": "ends with "}, {"content": "E"}], False),
        (
            ("END",),
            [{"content": "a END"}, THINKING, {"tool_calls": [_call(0)]}],
            [{"content": "a "}, THINKING, {"tool_calls": [_call(0)]}],
            True,
        ),
        (
            ("\n\n",),
            [THINKING, {"content": "x\n"}, {"content": "y"}],
            [THINKING, {"content": "x"}, {"content": "\ny"}],
            False,
        ),
    ],
    ids=["cut-across-deltas", "held-tail-released", "others-pass-after-hit", "partial-match-released"],
)
def test_stop_sequences(
    stops: tuple[str, ...], fed: list[dict[str, Any]], sent: list[dict[str, Any]], hit: bool
) -> None:
    step = StopSequences(stops)
    assert _run(step, fed, result()) == sent
    assert step.hit is hit


TEXT_HELD = [{"type": "text", "text": "Hello"}]
CALL = {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {"city": "Paris"}}


@pytest.mark.parametrize(
    ("exact", "fed", "end", "held"),
    [
        (True, [{"content": "Hel"}, {"content": "lo"}], "end_turn", TEXT_HELD),
        (True, [], "end_turn", [{"type": "text", "text": ""}]),
        (True, [{"content": "Hello"}], None, None),  # an error or a cut end
        (False, [{"content": "Hello"}], "end_turn", None),  # stop sequences or JSON output before it
        (True, [THINKING, {"content": "Hello"}], "end_turn", None),
        (
            True,
            [
                {"content": "Hello"},
                {"tool_calls": [_call(0, arguments='{"ci')]},
                {"tool_calls": [_call(0, arguments='ty": "Paris"}')]},
            ],
            "tool_deferred",
            [*TEXT_HELD, CALL],
        ),
        (True, [{"tool_calls": [_call(0, arguments='{"city": "Paris"}')]}], "tool_deferred", [CALL]),
        (True, [{"tool_calls": [_call(0, arguments='{"city": ')]}], "tool_deferred", None),  # not JSON
        (True, [{"tool_calls": [_call(0)]}], "end_turn", None),  # calls not handed to the client
        (True, [{"content": "Hello"}], "tool_deferred", None),  # deferred without calls
    ],
    ids=[
        "plain",
        "empty",
        "unclean-end",
        "inexact-filters",
        "reasoning",
        "text-and-calls",
        "calls-only",
        "arguments-not-json",
        "calls-not-deferred",
        "deferred-no-calls",
    ],
)
def test_reply_recorder(
    exact: bool, fed: list[dict[str, Any]], end: str | None, held: list[dict[str, Any]] | None
) -> None:
    recorder = ReplyRecorder(exact)
    assert _run(recorder, fed, result()) == fed  # it passes everything on as it is
    assert recorder.held(end) == held


def test_calls_a_limit_held_back_leave_nothing_held() -> None:
    limit, recorder = ToolCallLimit(1), ReplyRecorder(exact=True)
    _run(Chain([limit, recorder]), [{"tool_calls": [_call(0), _call(1)]}], result())
    assert limit.dropped
    recorder.dropped = limit.dropped
    assert recorder.held("tool_deferred") is None


class _Tagger:
    """A filter marking what it saw, holding its last delta back to the end."""

    def __init__(self, tag: str) -> None:
        self._tag, self._held = tag, ""

    def feed(self, delta: Delta) -> list[Delta]:
        out = [Delta(content=self._held)] if self._held else []
        self._held = f"{delta.content}{self._tag}"
        return out

    def flush(self, result: Any) -> list[Delta]:
        held, self._held = self._held, ""
        return [Delta(content=held)] if held else []


def test_chain_passes_each_output_and_each_tail_through_the_filters_after() -> None:
    assert _run(Chain([_Tagger("1"), _Tagger("2")]), [{"content": "a"}, {"content": "b"}, {"content": "c"}]) == [
        {"content": "a12"},
        {"content": "b12"},
        {"content": "c12"},
    ]


def test_chain_drops_what_a_filter_empties() -> None:
    recorder = ReplyRecorder(exact=True)
    chain = Chain([StopSequences(("X",)), recorder])
    assert _run(chain, [{"content": "aX"}, {"content": "more"}, {}], result()) == [{"content": "a"}]
    assert recorder.held("end_turn") == [{"type": "text", "text": "a"}]
