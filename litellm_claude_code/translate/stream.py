"""Claude Agent SDK messages -> OpenAI stream chunks, as a pure state machine.

``feed(message)`` returns the chunks a message produces, ``finish()`` the
closing ones; nothing here does I/O, so it is tested without asyncio (like
httpx's ``LineDecoder``). Raw Anthropic stream events go through LiteLLM's own
Anthropic parser and usage calculation, so text, reasoning and tool-call deltas
come out exactly as LiteLLM's Anthropic provider produces them.

Usage and the finish reason are held back to the end: usage travels in a chunk
of its own (``choices=[]``) before the finish chunk, because LiteLLM drops usage
attached to a content-less finish chunk.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import claude_agent_sdk as sdk
from litellm.litellm_core_utils.core_helpers import map_finish_reason
from litellm.llms.anthropic.chat.handler import ModelResponseIterator
from litellm.llms.anthropic.chat.transformation import AnthropicConfig
from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices, Usage

from ..errors import Failure, to_exception
from .stops import StopCutter

logger = logging.getLogger(__name__)

SYNTHETIC_MODEL = "<synthetic>"  # the CLI's model name on messages it made itself
# ResultMessage.terminal_reason values meaning the conversation does not fit the
# model's context: reported as ContextWindowExceededError so LiteLLM's
# context_window_fallbacks apply.
CONTEXT_EXCEEDED_REASONS = frozenset({"prompt_too_long"})
# The run ended because a PreToolUse hook deferred the client's tool call.
DEFERRED_STOP_REASON = "tool_deferred"
# Upstream stop reasons after which nothing Claude Code does belongs to the answer.
FINAL_STOP_REASONS = frozenset({"max_tokens"})


class StreamTranslator:
    """Turns one query's SDK messages into ``ModelResponseStream`` chunks."""

    def __init__(
        self,
        model: str,
        clock: Any = time.time,
        stop: tuple[str, ...] = (),
        json_output: bool = False,
        tool_names: Mapping[str, str] | None = None,
        max_tool_calls: int | None = None,
    ) -> None:
        self.model = model  # what the client asked for, until upstream names the model
        self.id = f"chatcmpl-{uuid.uuid4()}"
        self.created = int(clock())
        # tool_names maps the names tools have inside Claude Code back to the client's.
        self._tool_names = dict(tool_names or {})
        self._parser = ModelResponseIterator(
            streaming_response=None, sync_stream=False, tool_name_reverse_map=self._tool_names
        )
        self._max_tool_calls = max_tool_calls
        self._fallback_tools = 0  # tool calls sent from whole messages
        self._streamed: set[str] = set()  # message ids whose content came as deltas
        self._message_id: str | None = None
        self._stop_reason: str | None = None
        self._error_kind: str | None = None
        self._retry_at: float | None = None
        self._clock = clock
        self._cutter = StopCutter(stop)
        # With response_format the answer is the SDK's validated structured
        # output, sent once the result confirms it; the model's own text and its
        # StructuredOutput tool call are how it got there, not the answer.
        self._json_output = json_output
        self._stream_usage: Usage | None = None  # the current API message's usage, from its events
        self.result: sdk.ResultMessage | None = None
        self.started = False  # a content chunk has been produced
        self.complete = False  # the answer is over: stop reading the query
        self._text: list[str] = []  # the answer's text as sent
        self._text_only = True  # no reasoning or tool calls were sent

    # -- dispatch -----------------------------------------------------------

    def feed(self, message: object) -> list[ModelResponseStream]:
        """Chunks for one SDK message; raises the mapped exception on failure."""
        if isinstance(message, sdk.StreamEvent):
            return self._on_event(message)
        if isinstance(message, sdk.AssistantMessage):
            return self._on_assistant(message)
        if isinstance(message, sdk.ResultMessage):
            return self._on_result(message)
        if isinstance(message, sdk.RateLimitEvent):
            return self._on_rate_limit(message)
        if isinstance(message, sdk.SystemMessage) and message.subtype == "api_retry":
            return self._on_retry(message.data)
        if not isinstance(message, (sdk.SystemMessage, sdk.UserMessage)):
            logger.debug("skipping unknown SDK message %s", type(message).__name__)
        return []

    def finish(self) -> list[ModelResponseStream]:
        """The usage chunk and the finish chunk, once the answer is complete."""
        if not self.complete:
            raise to_exception(Failure(status=502, message="Claude Code ended without a result"), self.model)
        final = self.result.stop_reason if self.result else None
        final = "tool_use" if final == DEFERRED_STOP_REASON else final
        reason = map_finish_reason("stop_sequence" if self._cutter.hit else self._stop_reason or final or "end_turn")
        held = self._cutter.flush()
        chunks = [self._chunk(Delta(content=held))] if held else []
        return [*chunks, self._usage_chunk(), self._chunk(Delta(content=None), finish_reason=reason)]

    # -- message kinds ------------------------------------------------------

    def _on_event(self, message: sdk.StreamEvent) -> list[ModelResponseStream]:
        if message.parent_tool_use_id is not None:
            return []  # a sub-agent's stream, not the answer
        event = message.event
        kind = event.get("type")
        if kind == "message_start":
            self._start_message(event.get("message") or {})
        elif kind == "message_delta":
            self._on_stop(event.get("delta") or {})
        parsed = self._parser.chunk_parser(event)
        if getattr(parsed, "usage", None) is not None:
            self._stream_usage = parsed.usage  # type: ignore[attr-defined]
        return self._content_of(parsed)

    def _on_stop(self, delta: dict[str, Any]) -> None:
        self._stop_reason = delta.get("stop_reason") or self._stop_reason
        # Claude Code answers a max_tokens stop by asking the model to go on
        # (a second API call, even with max_turns=1). The client asked for a
        # capped reply: the answer ends here, with finish_reason "length".
        if self._stop_reason in FINAL_STOP_REASONS:
            self.complete = True

    def _start_message(self, message: dict[str, Any]) -> None:
        self._message_id = message.get("id")
        if message.get("model"):
            self.model = message["model"]

    def _content_of(self, parsed: ModelResponseStream) -> list[ModelResponseStream]:
        delta = parsed.choices[0].delta if parsed.choices else None
        if delta is None or not _has_content(delta):
            return []
        if self._message_id:
            self._streamed.add(self._message_id)
        return self._emit(_clean_delta(delta))

    def _emit(self, delta: Delta) -> list[ModelResponseStream]:
        if self._json_output:
            delta = Delta(reasoning_content=getattr(delta, "reasoning_content", None))
        if delta.tool_calls and self._max_tool_calls is not None:
            # parallel_tool_calls=false: Claude Code sets no such flag upstream,
            # so calls past the first are not passed on.
            calls = [c for c in delta.tool_calls if (_index_of(c) or 0) < self._max_tool_calls]
            delta.tool_calls = calls or None
        if delta.content:
            # Stop sequences cut the text; reasoning and tool calls pass as they are.
            delta.content = self._cutter.feed(delta.content) or None
        if not _has_content(delta):
            return []
        self._text.append(delta.content or "")
        self._text_only = self._text_only and not (getattr(delta, "reasoning_content", None) or delta.tool_calls)
        return [self._chunk(delta)]

    @property
    def plain_reply(self) -> str | None:
        """The whole reply, when a session now holds exactly it as its last turn.

        Only a complete, uncut, text-only answer: anything else (an error, a
        stop sequence or token cap that cut it, reasoning, tool calls, JSON
        output) leaves a session whose history the client cannot resend as is.
        """
        result = self.result
        clean = result is not None and not result.is_error and (result.stop_reason or "end_turn") == "end_turn"
        if not clean or self._cutter.stops or self._json_output or not self._text_only:
            return None
        return "".join(self._text)

    def _on_assistant(self, message: sdk.AssistantMessage) -> list[ModelResponseStream]:
        if message.parent_tool_use_id is not None:
            return []
        if message.error is not None:
            self._error_kind = message.error  # its text is the CLI's, reported with the result
            return []
        if message.model and message.model != SYNTHETIC_MODEL:
            self.model = message.model
        self._stop_reason = message.stop_reason or self._stop_reason
        if message.message_id in self._streamed:
            return []
        return self._blocks_as_chunks(message.content)

    def _blocks_as_chunks(self, blocks: list[Any]) -> list[ModelResponseStream]:
        # The CLI may answer without stream events (a non-streaming retry): the
        # whole message then arrives at once and is sent as one chunk per block.
        chunks = []
        for block in blocks:
            if isinstance(block, sdk.TextBlock) and block.text:
                chunks += self._emit(Delta(content=block.text))
            elif isinstance(block, sdk.ThinkingBlock) and block.thinking:
                chunks += self._emit(Delta(reasoning_content=block.thinking))
            elif isinstance(block, sdk.ToolUseBlock):
                chunks += self._emit(Delta(tool_calls=[self._tool_call(block)]))
        return chunks

    def _tool_call(self, block: sdk.ToolUseBlock) -> dict[str, Any]:
        index, self._fallback_tools = self._fallback_tools, self._fallback_tools + 1
        name = self._tool_names.get(block.name, block.name)
        function = {"name": name, "arguments": json.dumps(block.input)}
        return {"id": block.id, "type": "function", "index": index, "function": function}

    def _on_retry(self, data: dict[str, Any]) -> list[ModelResponseStream]:
        """Claude Code is about to wait and retry an API error (``api_retry``).

        A 429 is answered at once instead, with upstream's wait as Retry-After
        (issue 12): the router can then try the model's other accounts within
        a second, and a client with a single account gets the hint instead of
        a silent wait that ends in the same 429.
        """
        if data.get("error_status") != 429:
            return []
        delay = data.get("retry_delay_ms")
        seconds = delay / 1000 if isinstance(delay, (int, float)) and not isinstance(delay, bool) else None
        message = f"Claude's API is limiting requests ({data.get('error') or 'rate_limit'}); retry after the wait given"
        raise to_exception(Failure(status=429, kind="rate_limit", message=message, retry_after=seconds), self.model)

    def _on_rate_limit(self, message: sdk.RateLimitEvent) -> list[ModelResponseStream]:
        info = message.rate_limit_info
        if info.status == "rejected" and info.resets_at:
            self._retry_at = float(info.resets_at)
        return []

    def _on_result(self, message: sdk.ResultMessage) -> list[ModelResponseStream]:
        if message.is_error:
            raise to_exception(self.failure_of(message), self.model)
        self.result = message
        self.complete = True
        if self._json_output:
            return self._structured(message)
        return []

    def _structured(self, message: sdk.ResultMessage) -> list[ModelResponseStream]:
        if message.structured_output is None:
            failure = Failure(status=502, message="Claude gave no output matching the response_format schema")
            raise to_exception(failure, self.model)
        return [self._chunk(Delta(content=json.dumps(message.structured_output, ensure_ascii=False)))]

    # -- building blocks ----------------------------------------------------

    def failure_of(self, result: sdk.ResultMessage) -> Failure:
        """Structured facts of a failed result."""
        text = result.result or "; ".join(result.errors or []) or f"Claude Code failed ({result.subtype})"
        retry_after = None if self._retry_at is None else max(0.0, self._retry_at - self._clock())
        return Failure(
            status=result.api_error_status,
            kind=self._error_kind,
            message=text,
            retry_after=retry_after,
            context_exceeded=result.terminal_reason in CONTEXT_EXCEEDED_REASONS,
            # An API error with no HTTP status: the API could not be reached or
            # broke off (connection refused, reset, DNS) -> a bad gateway.
            api_unreachable=result.terminal_reason == "api_error" and result.api_error_status is None,
        )

    def usage(self) -> Usage:
        """Token counts the SDK reported for the query (or the streamed message, when cut short)."""
        if self.result is None and self._stream_usage is not None:
            return self._stream_usage
        raw = (self.result.usage if self.result else None) or {}
        return AnthropicConfig().calculate_usage(usage_object=raw, reasoning_content=None)

    def _usage_chunk(self) -> ModelResponseStream:
        chunk = ModelResponseStream(id=self.id, created=self.created, model=self.model, choices=[])
        chunk.usage = self.usage()  # type: ignore[attr-defined]
        return chunk

    def _chunk(self, delta: Delta, finish_reason: str | None = None) -> ModelResponseStream:
        if finish_reason is None:
            if not self.started:
                delta.role = "assistant"  # OpenAI names the role on the first delta only
            self.started = True
        choice = StreamingChoices(index=0, delta=delta, finish_reason=finish_reason)
        return ModelResponseStream(id=self.id, created=self.created, model=self.model, choices=[choice])


def _index_of(call: Any) -> int | None:
    return call.get("index") if isinstance(call, dict) else getattr(call, "index", None)


def _has_content(delta: Delta) -> bool:
    return bool(delta.content or getattr(delta, "reasoning_content", None) or delta.tool_calls)


def _clean_delta(delta: Delta) -> Delta:
    fields: dict[str, Any] = {"content": delta.content or None}
    if getattr(delta, "reasoning_content", None):
        fields["reasoning_content"] = delta.reasoning_content
        fields["thinking_blocks"] = getattr(delta, "thinking_blocks", None)
    if delta.tool_calls:
        fields["tool_calls"] = delta.tool_calls
    return Delta(**fields)
