"""The stream translator as a pure state machine: SDK messages in, exactly these chunks out."""

from __future__ import annotations

from typing import Any

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.errors import Failed, Failure
from litellm_claude_code.translate.stream import Outcome, StreamTranslator

from ..sdk_messages import (
    MODEL,
    assistant,
    block_stop,
    event,
    message_delta,
    message_start,
    rate_limited,
    result,
    text_delta,
    text_start,
    thinking_delta,
    thinking_start,
)

ALIAS = "sonnet"


def _dump(chunks: list[Any]) -> list[dict[str, Any]]:
    return [chunk.model_dump(exclude_none=True, exclude={"id"}) for chunk in chunks]


def _translate(messages: list[Any], **options: Any) -> tuple[list[dict[str, Any]], Outcome]:
    """Every chunk of the messages (read until the answer is complete, as the provider does) and the outcome."""
    translator = StreamTranslator(ALIAS, clock=lambda: 1000.0, **options)
    chunks = []
    for message in messages:
        chunks += translator.feed(message)
        if translator.complete:
            break
    last, outcome = translator.finish()
    assert len({chunk.id for chunk in chunks + last}) == 1  # one id for the whole answer
    return _dump(chunks + last), outcome


def _chunk(model: str, **choice: Any) -> dict[str, Any]:
    choices = [{"index": 0, **choice}] if choice else []
    return {"created": 1000, "model": model, "object": "chat.completion.chunk", "choices": choices}


def content(model: str = MODEL, **delta: Any) -> dict[str, Any]:
    return _chunk(model, delta=delta)


def finish(reason: str, model: str = MODEL) -> dict[str, Any]:
    return _chunk(model, finish_reason=reason, delta={})


def usage(prompt: int = 11, completion: int = 7, read: int = 0, written: int = 0, model: str = MODEL) -> dict[str, Any]:
    counts = {
        "completion_tokens": completion,
        "prompt_tokens": prompt + read + written,
        "total_tokens": prompt + read + written + completion,
        "completion_tokens_details": {"reasoning_tokens": 0, "text_tokens": completion},
        "prompt_tokens_details": {
            "cache_write_tokens": written,
            "cached_tokens": read,
            "text_tokens": prompt,
            "cache_creation_tokens": written,
        },
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }
    return {**_chunk(model), "usage": counts}


TEXT_STREAM = [
    sdk.SystemMessage(subtype="init", data={}),
    message_start(),
    text_start(),
    text_delta("Hel"),
    text_delta("lo"),
    block_stop(),
    message_delta("end_turn"),
    assistant("Hello"),
    result({"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}),
]


def _streamed(*texts: str, stop_reason: str = "end_turn") -> list[Any]:
    return [message_start(), text_start(), *(text_delta(t) for t in texts), block_stop(), message_delta(stop_reason)]


def _whole_with_tools() -> sdk.AssistantMessage:
    blocks: list[Any] = [
        sdk.TextBlock(text="Checking."),
        sdk.ThinkingBlock(thinking="which city?", signature="s"),
        sdk.ToolUseBlock(id="t1", name="get_weather", input={"city": "Paris"}),
        sdk.ToolUseBlock(id="t2", name="Bash", input={}),
    ]
    return sdk.AssistantMessage(content=blocks, model=MODEL, message_id="msg_9", stop_reason="tool_use")


def _call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "function": {"arguments": arguments, "name": name}, "type": "function", "index": index}


CASES: list[tuple[str, list[Any], dict[str, Any], list[dict[str, Any]], str | None]] = [
    (
        "text-deltas-then-usage-then-finish",
        TEXT_STREAM,
        {},
        [
            content(content="Hel", role="assistant"),
            content(content="lo"),  # not repeated by the AssistantMessage of the streamed message
            usage(11, 7, read=3, written=2),
            finish("stop"),
        ],
        "Hello",
    ),
    (
        "whole-message-without-stream-events",  # a non-streaming retry by the CLI
        [_whole_with_tools(), result(stop_reason="tool_use")],
        {},
        [
            content(content="Checking.", role="assistant"),
            content(reasoning_content="which city?"),
            content(tool_calls=[_call(0, "t1", "get_weather", '{"city": "Paris"}')]),
            content(tool_calls=[_call(1, "t2", "Bash", "{}")]),
            usage(),
            finish("tool_calls"),
        ],
        None,
    ),
    (
        "parallel-tool-calls-false-sends-the-first",
        [_whole_with_tools(), result(stop_reason="tool_use")],
        {"max_tool_calls": 1},
        [
            content(content="Checking.", role="assistant"),
            content(reasoning_content="which city?"),
            content(tool_calls=[_call(0, "t1", "get_weather", '{"city": "Paris"}')]),
            usage(),
            finish("tool_calls"),
        ],
        None,
    ),
    (
        "thinking-is-reasoning-content",
        [message_start(), thinking_start(), thinking_delta("hmm"), block_stop(), result()],
        {},
        [
            content(
                reasoning_content="hmm",
                thinking_blocks=[{"type": "thinking", "thinking": "hmm", "index": 0}],
                role="assistant",
            ),
            usage(),
            finish("stop"),
        ],
        None,
    ),
    (
        "stop-sequence-cuts-the-text",
        [*_streamed("one tw", "o EN", "D three"), result()],
        {"stop": ("END",)},
        [content(content="one tw", role="assistant"), content(content="o "), usage(), finish("stop")],
        None,
    ),
    (
        "held-back-text-is-released-when-max-tokens-ends-the-answer",
        _streamed("ends with E", stop_reason="max_tokens"),
        {"stop": ("END",)},
        [
            content(content="ends with ", role="assistant"),
            content(content="E"),
            usage(5, 3),
            finish("length"),
        ],  # streamed usage
        None,
    ),
    (
        "json-output-is-the-validated-structured-output",
        [*_streamed("Here:"), result(structured_output={"a": "é"})],
        {"json_output": True, "stop": ("a",)},
        [content(content='{"a": "é"}', role="assistant"), usage(), finish("stop")],
        None,
    ),
    (
        "sub-agent-stream-is-ignored",
        [
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}, "t"),
            result(),
        ],
        {},
        [usage(model=ALIAS), finish("stop", model=ALIAS)],
        "",
    ),
    (
        "unknown-messages-are-skipped",
        [sdk.ConversationResetMessage("c", "u", "s"), sdk.UserMessage(content="tool result"), result()],
        {},
        [usage(model=ALIAS), finish("stop", model=ALIAS)],
        "",
    ),
    (
        "a-retry-other-than-429-is-left-to-claude-code",
        [sdk.SystemMessage(subtype="api_retry", data={"error_status": 529, "retry_delay_ms": 2000}), result()],
        {},
        [usage(model=ALIAS), finish("stop", model=ALIAS)],
        "",
    ),
]


@pytest.mark.parametrize(("messages", "options", "chunks", "reply"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_chunks_and_outcome(
    messages: list[Any], options: dict[str, Any], chunks: list[dict[str, Any]], reply: str | None
) -> None:
    sent, outcome = _translate(messages, **options)
    assert (sent, outcome.held) == (chunks, _held(reply))


def test_every_chunk_names_the_model_that_answered_once_known() -> None:
    other = "claude-haiku-4-5-20251001"
    messages = [
        sdk.AssistantMessage(content=[], model="<synthetic>", message_id="msg_0"),  # the CLI's own: names no model
        *_streamed("a"),
        message_start("msg_2", model=other),  # a later API call answered by another model
        text_start(),
        text_delta("b"),
        result(),
    ]
    chunks, _ = _translate(messages)
    assert [chunk["model"] for chunk in chunks] == [MODEL, other, other, other]


@pytest.mark.parametrize(
    ("options", "end", "reply"),
    [
        ({}, TEXT_STREAM[-1], "Hello"),
        ({"stop": ("zzz",)}, TEXT_STREAM[-1], None),
        ({"json_output": True}, result(structured_output={}), None),
        ({}, result(stop_reason="max_tokens"), None),
    ],
    ids=["plain", "stop-sequences", "json-output", "not-ended-by-the-model"],
)
def test_outcome_reply_only_for_text_the_filters_left_unchanged(
    options: dict[str, Any], end: sdk.ResultMessage, reply: str | None
) -> None:
    assert _translate([*TEXT_STREAM[:-1], end], **options)[1].held == _held(reply)


def _held(reply: str | None) -> list[dict[str, Any]] | None:
    return None if reply is None else [{"type": "text", "text": reply}]


FAILURES: list[tuple[str, list[Any], dict[str, Any], Failure]] = [
    (
        "error-result",
        [assistant("API Error: 529", error="server_error"), result(is_error=True, api_error_status=529, text="x")],
        {},
        Failure(status=529, kind="server_error", message="x"),
    ),
    (
        "rate-limit-reset-is-retry-after",
        [rate_limited(resets_at=1042), result(is_error=True, api_error_status=429, text="limited")],
        {},
        Failure(status=429, message="limited", retry_after=42.0),
    ),
    (
        "a-throttle-claude-code-would-wait-out-is-answered-at-once",
        [sdk.SystemMessage(subtype="api_retry", data={"error_status": 429, "retry_delay_ms": 7548})],
        {},
        Failure(
            status=429,
            kind="rate_limit",
            message="Claude's API is limiting requests (rate_limit); retry after the wait given",
            retry_after=7.548,
        ),
    ),
    ("no-result", [message_start()], {}, Failure(status=502, message="Claude Code ended without a result")),
    (
        "json-output-without-structured-output",
        [*_streamed("x"), result()],
        {"json_output": True},
        Failure(status=502, message="Claude gave no output matching the response_format schema"),
    ),
]


@pytest.mark.parametrize(("messages", "options", "failure"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_failures_are_raised_as_failed(messages: list[Any], options: dict[str, Any], failure: Failure) -> None:
    with pytest.raises(Failed) as caught:
        _translate(messages, **options)
    assert caught.value.failure == failure


def test_end_turn_waits_for_the_result_and_max_tokens_does_not() -> None:
    translator = StreamTranslator(ALIAS)
    for message in _streamed("x"):
        translator.feed(message)
    assert not translator.complete
    translator.feed(result())
    assert translator.complete
    capped = StreamTranslator(ALIAS)
    for message in _streamed("x", stop_reason="max_tokens"):
        capped.feed(message)
    assert capped.complete


def test_started_tracks_content() -> None:
    translator = StreamTranslator(ALIAS)
    translator.feed(message_start())
    assert not translator.started
    translator.feed(text_start())
    translator.feed(text_delta("a"))
    assert translator.started
