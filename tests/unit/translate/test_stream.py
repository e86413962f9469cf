"""The stream translator as a pure state machine: SDK messages in, chunks out."""

from __future__ import annotations

from typing import Any

import claude_agent_sdk as sdk
import litellm
import pytest

from litellm_claude_code.translate.stream import StreamTranslator

from ..sdk_messages import (
    MODEL,
    assistant,
    block_stop,
    message_delta,
    message_start,
    rate_limited,
    result,
    text_delta,
    text_start,
    thinking_delta,
    thinking_start,
)


def _feed_all(messages: list[Any], clock: Any = lambda: 1000.0) -> list[dict[str, Any]]:
    translator = StreamTranslator("sonnet", clock=clock)
    chunks = [chunk for message in messages for chunk in translator.feed(message)]
    chunks += translator.finish()
    return [chunk.model_dump(exclude_none=True, exclude={"id", "created"}) for chunk in chunks]


def _deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


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


def test_each_text_delta_becomes_one_chunk_then_usage_then_finish() -> None:
    chunks = _feed_all(TEXT_STREAM)
    assert [c["choices"][0]["delta"].get("content") for c in chunks[:2]] == ["Hel", "lo"]
    assert len(chunks) == 4
    usage_chunk, finish_chunk = chunks[2], chunks[3]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 16  # input + cache read + cache creation
    assert usage_chunk["usage"]["completion_tokens"] == 7
    assert usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    assert usage_chunk["usage"]["cache_creation_input_tokens"] == 2
    assert finish_chunk["choices"][0]["finish_reason"] == "stop"
    assert finish_chunk["model"] == MODEL


def test_model_is_the_one_upstream_named() -> None:
    assert {c["model"] for c in _feed_all(TEXT_STREAM)} == {MODEL}


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"), ("tool_use", "tool_calls")],
)
def test_finish_reason_follows_upstream_stop_reason(stop_reason: str, finish_reason: str) -> None:
    messages = [message_start(), text_start(), text_delta("x"), message_delta(stop_reason), result()]
    assert _feed_all(messages)[-1]["choices"][0]["finish_reason"] == finish_reason


def test_message_without_stream_events_is_sent_whole() -> None:
    # A non-streaming retry by the CLI yields only the AssistantMessage.
    chunks = _feed_all([assistant("whole answer", message_id="msg_9"), result()])
    assert _deltas(chunks)[0] == {"content": "whole answer", "role": "assistant"}


def test_streamed_message_is_not_repeated_by_its_assistant_message() -> None:
    contents = [d.get("content") for d in _deltas(_feed_all(TEXT_STREAM))]
    assert contents == ["Hel", "lo", None]
    assert [d.get("role") for d in _deltas(_feed_all(TEXT_STREAM))] == ["assistant", None, None]


def test_thinking_comes_back_as_reasoning_content() -> None:
    messages = [message_start(), thinking_start(), thinking_delta("hmm"), block_stop(), result()]
    assert _deltas(_feed_all(messages))[0]["reasoning_content"] == "hmm"


def test_sub_agent_stream_is_ignored() -> None:
    from ..sdk_messages import event

    stray = event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}, "tool_1")
    assert _deltas(_feed_all([stray, result()])) == [{}]


def test_unknown_messages_are_skipped() -> None:
    assert _feed_all([object(), result()])[0]["choices"] == []


def test_error_result_raises_the_mapped_exception() -> None:
    translator = StreamTranslator("sonnet")
    translator.feed(assistant("API Error: 529 overloaded", error="server_error"))
    with pytest.raises(litellm.ServiceUnavailableError):
        translator.feed(result(is_error=True, api_error_status=529, text="API Error: 529 overloaded"))


def test_not_logged_in_is_401() -> None:
    translator = StreamTranslator("sonnet")
    translator.feed(assistant("Not logged in · Please run /login", error="authentication_failed", model="<synthetic>"))
    with pytest.raises(litellm.AuthenticationError, match="setup-token"):
        translator.feed(result(is_error=True, text="Not logged in · Please run /login"))


def test_rate_limit_reset_becomes_retry_after() -> None:
    translator = StreamTranslator("sonnet", clock=lambda: 1000.0)
    translator.feed(rate_limited(resets_at=1042))
    with pytest.raises(litellm.RateLimitError) as caught:
        translator.feed(result(is_error=True, api_error_status=429, text="rate limited"))
    assert caught.value.headers == {"retry-after": "42"}


def test_finish_without_result_is_an_error() -> None:
    translator = StreamTranslator("sonnet")
    translator.feed(message_start())
    with pytest.raises(litellm.BadGatewayError):
        translator.finish()


def test_started_flag_tracks_content() -> None:
    translator = StreamTranslator("sonnet")
    translator.feed(message_start())
    assert not translator.started
    translator.feed(text_start())
    translator.feed(text_delta("a"))
    assert translator.started


def test_prompt_too_long_is_context_window_exceeded() -> None:
    translator = StreamTranslator("sonnet")
    translator.feed(assistant("Prompt is too long", error="invalid_request", model="<synthetic>"))
    with pytest.raises(litellm.ContextWindowExceededError):
        translator.feed(
            result(is_error=True, api_error_status=400, text="Prompt is too long", terminal_reason="prompt_too_long")
        )


def test_max_tokens_ends_the_answer_with_the_streamed_usage() -> None:
    translator = StreamTranslator("sonnet")
    for message in [message_start(), text_start(), text_delta("cut"), block_stop(), message_delta("max_tokens", 9)]:
        translator.feed(message)
    assert translator.complete
    usage_chunk, finish_chunk = translator.finish()
    assert finish_chunk.choices[0].finish_reason == "length"
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (5, 9)  # type: ignore[attr-defined]


def test_end_turn_waits_for_the_result() -> None:
    translator = StreamTranslator("sonnet")
    for message in [message_start(), text_start(), text_delta("x"), message_delta("end_turn")]:
        translator.feed(message)
    assert not translator.complete
    translator.feed(result())
    assert translator.complete


def test_stop_sequence_cuts_the_streamed_text() -> None:
    translator = StreamTranslator("sonnet", stop=("END",))
    messages = [
        message_start(),
        text_start(),
        text_delta("one tw"),
        text_delta("o EN"),
        text_delta("D three"),
        result(),
    ]
    chunks = [c for m in messages for c in translator.feed(m)] + translator.finish()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two "
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_held_back_text_is_released_at_the_end() -> None:
    translator = StreamTranslator("sonnet", stop=("END",))
    messages = [message_start(), text_start(), text_delta("ends with E"), message_delta("max_tokens")]
    chunks = [c for m in messages for c in translator.feed(m)] + translator.finish()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ends with E"
    assert chunks[-1].choices[0].finish_reason == "length"


def test_json_output_is_the_validated_structured_output() -> None:
    translator = StreamTranslator("sonnet", json_output=True)
    structured = result(structured_output={"a": 1})
    chunks = [c for m in [message_start(), text_start(), text_delta("Here:"), structured] for c in translator.feed(m)]
    assert [c.choices[0].delta.content for c in chunks] == ['{"a": 1}']


def test_json_output_without_structured_output_is_an_error() -> None:
    translator = StreamTranslator("sonnet", json_output=True)
    with pytest.raises(litellm.BadGatewayError, match="response_format"):
        translator.feed(result())


def _api_retry(status: int, delay_ms: int) -> sdk.SystemMessage:
    data = {"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 1, "retry_delay_ms": delay_ms}
    return sdk.SystemMessage(subtype="api_retry", data={**data, "error_status": status, "error": "rate_limit"})


def test_a_throttle_claude_code_would_wait_out_is_a_429_at_once_with_its_wait() -> None:
    translator = StreamTranslator("sonnet")
    with pytest.raises(litellm.RateLimitError) as caught:
        translator.feed(_api_retry(429, 7548))
    assert caught.value.headers == {"retry-after": "8"}


def test_other_retries_are_left_to_claude_code() -> None:
    assert StreamTranslator("sonnet").feed(_api_retry(529, 2000)) == []
