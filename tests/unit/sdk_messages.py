"""Builders for the SDK's typed messages, as the CLI produces them."""

from __future__ import annotations

from typing import Any

import claude_agent_sdk as sdk

MODEL = "claude-sonnet-4-5-20250929"


def event(payload: dict[str, Any], parent: str | None = None) -> sdk.StreamEvent:
    return sdk.StreamEvent(uuid="u", session_id="s", event=payload, parent_tool_use_id=parent)


def message_start(message_id: str = "msg_1", model: str = MODEL) -> sdk.StreamEvent:
    message = {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": []}
    return event({"type": "message_start", "message": {**message, "usage": {"input_tokens": 5, "output_tokens": 1}}})


def text_start(index: int = 0) -> sdk.StreamEvent:
    return event({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})


def text_delta(text: str, index: int = 0) -> sdk.StreamEvent:
    return event({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})


def thinking_start(index: int = 0) -> sdk.StreamEvent:
    block = {"type": "thinking", "thinking": "", "signature": ""}
    return event({"type": "content_block_start", "index": index, "content_block": block})


def thinking_delta(text: str, index: int = 0) -> sdk.StreamEvent:
    delta = {"type": "thinking_delta", "thinking": text}
    return event({"type": "content_block_delta", "index": index, "delta": delta})


def block_stop(index: int = 0) -> sdk.StreamEvent:
    return event({"type": "content_block_stop", "index": index})


def message_delta(stop_reason: str = "end_turn", output_tokens: int = 3) -> sdk.StreamEvent:
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    return event({"type": "message_delta", "delta": delta, "usage": {"output_tokens": output_tokens}})


def assistant(
    text: str, message_id: str = "msg_1", error: str | None = None, model: str = MODEL
) -> sdk.AssistantMessage:
    return sdk.AssistantMessage(
        content=[sdk.TextBlock(text=text)],
        model=model,
        message_id=message_id,
        error=error,  # type: ignore[arg-type]  # tests also build error kinds the SDK's Literal does not list
    )


def result(
    usage: dict[str, int] | None = None,
    stop_reason: str = "end_turn",
    is_error: bool = False,
    api_error_status: int | None = None,
    text: str | None = None,
    terminal_reason: str | None = None,
    structured_output: Any = None,
) -> sdk.ResultMessage:
    return sdk.ResultMessage(
        subtype="success",
        duration_ms=1,
        duration_api_ms=1,
        is_error=is_error,
        num_turns=1,
        session_id="s",
        stop_reason=stop_reason,
        usage=usage if usage is not None else {"input_tokens": 11, "output_tokens": 7},
        result=text,
        api_error_status=api_error_status,
        terminal_reason=terminal_reason,
        structured_output=structured_output,
    )


def rate_limited(resets_at: int) -> sdk.RateLimitEvent:
    info = sdk.RateLimitInfo(status="rejected", resets_at=resets_at, rate_limit_type="five_hour")
    return sdk.RateLimitEvent(rate_limit_info=info, uuid="u", session_id="s")
