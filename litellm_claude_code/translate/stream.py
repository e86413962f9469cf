"""Claude Agent SDK messages -> OpenAI stream chunks, as a pure state machine.

``feed(message)`` returns the chunks a message produces, ``finish()`` the
closing ones and the answer's ``Outcome``; nothing here does I/O, so it is
tested without asyncio (like httpx's ``LineDecoder``). Raw Anthropic stream
events go through LiteLLM's own Anthropic parser, so text, reasoning and
tool-call deltas come out exactly as LiteLLM's Anthropic provider produces
them; the deltas then pass the answer's filters (``filters``) before they
become chunks. Usage and the finish reason are held back to the end.

A failure is raised as ``errors.Failed``; the provider's edge maps it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import claude_agent_sdk as sdk
from litellm.llms.anthropic.chat.handler import ModelResponseIterator
from litellm.types.utils import Delta, ModelResponseStream, ServerToolUse, Usage

from ..errors import Failed, Failure
from .chunks import ChunkMaker
from .ending import Ending
from .failures import FailureFacts
from .filters import (
    Chain,
    Citations,
    Filter,
    HiddenToolCalls,
    JsonOutput,
    ReplyRecorder,
    StopSequences,
    ToolCallLimit,
    has_content,
)
from .params import Controls
from .search import PUBLISHED, PUBLISHED_BLOCKS, Kept, SearchBlocks, SearchCalls, Sources, refused
from .search import TOOL as SEARCH_TOOL

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What the answer left behind: ``held`` is the assistant turn (Anthropic content blocks, the
    client's tool names) when the process now holds exactly what the client was sent, else None."""

    held: list[dict[str, Any]] | None
    usage: Usage | None = None  # the answer's token counts, as its usage chunk carries them


class StreamTranslator:
    """Turns one query's SDK messages into ``ModelResponseStream`` chunks."""

    def __init__(
        self,
        model: str,
        clock: Callable[[], float] = time.time,
        stop: tuple[str, ...] = (),
        json_output: bool = False,
        max_tool_calls: int | None = None,
        search: bool = False,
        tool_names: Mapping[str, str] | None = None,
        publish: Callable[[tuple[dict[str, Any], ...]], None] | None = None,
        publish_blocks: Callable[[tuple[dict[str, Any], ...]], None] | None = None,
        kept: Callable[[], Kept | None] | None = None,
    ) -> None:
        # Tool calls come under the client's own names; tool_names maps the few
        # a function has another name by inside Claude Code back (tools.cli_name).
        # With search on, a WebSearch call is Claude Code's own (tools.check_names).
        names = dict(tool_names or {})
        self._chunks = ChunkMaker(model, clock)
        self._parser = ModelResponseIterator(streaming_response=None, sync_stream=False, tool_name_reverse_map=names)
        self._whole = WholeMessages(names)
        self._failures = FailureFacts(clock)
        self._ending = Ending()
        # In JSON mode the text is not the answer, so there is nothing for stop sequences to cut.
        self._stops = StopSequences(stop) if stop and not json_output else None
        self._recorder = ReplyRecorder(exact=not stop and not json_output)
        # With search on, the model's WebSearch calls are run by Claude Code and
        # its results turn the answer's links into citations (search.Sources).
        self._sources = Sources() if search else None
        # ... and each call is a web_search_call item, handed to ``publish`` (for
        # /v1/responses: search.Published) as soon as it has run.
        self._calls = SearchCalls() if search else None
        self._publish = publish if search else None
        if self._publish is not None:
            self._publish(())  # a retried request starts again with no searches
        # ... and, for /v1/messages, the API's own blocks of each search (what the search
        # forwarder kept: ``kept``), handed to ``publish_blocks`` (search.PUBLISHED_BLOCKS).
        self._blocks = SearchBlocks() if search and publish_blocks is not None else None
        self._publish_blocks, self._kept = publish_blocks, kept
        if self._blocks is not None and publish_blocks is not None:
            publish_blocks(())
        self._limit = None if max_tool_calls is None else ToolCallLimit(max_tool_calls)
        filters: list[Filter] = [HiddenToolCalls(frozenset({SEARCH_TOOL}))] if search else []
        filters += [] if self._limit is None else [self._limit]
        filters += [JsonOutput()] if json_output else [self._stops] if self._stops else []
        filters += [Citations(self._sources)] if self._sources is not None else []
        self._filters = Chain([*filters, self._recorder])

    @property
    def complete(self) -> bool:
        """The answer is over: stop reading the query."""
        return self._ending.complete

    @property
    def started(self) -> bool:
        """A content chunk has been produced."""
        return self._chunks.started

    def feed(self, message: sdk.Message) -> list[ModelResponseStream]:
        """Chunks for one SDK message; raises ``Failed`` when it reports a failure."""
        if isinstance(message, sdk.StreamEvent):
            return self._on_event(message)
        if isinstance(message, sdk.AssistantMessage):
            return self._on_assistant(message)
        if isinstance(message, sdk.ResultMessage):
            return self._on_result(message)
        if isinstance(message, sdk.RateLimitEvent):
            self._failures.limited(message.rate_limit_info)
        elif isinstance(message, sdk.SystemMessage) and message.subtype == "api_retry":
            throttled = self._failures.throttled(message.data)
            if throttled is not None:
                raise Failed(throttled)
        elif isinstance(message, sdk.UserMessage) and self._sources is not None and message.parent_tool_use_id is None:
            failure = refused(message)
            if failure is not None:
                raise Failed(failure)
            self._sources.add(message.tool_use_result)
            self._on_search_blocks(message)
            if self._calls is not None and self._calls.answered(message) and self._publish is not None:
                self._publish(tuple(self._calls.items))
        elif not isinstance(message, (sdk.SystemMessage, sdk.UserMessage)):
            logger.debug("skipping unknown SDK message %s", type(message).__name__)
        return []

    def _on_search_blocks(self, message: sdk.UserMessage) -> None:
        if self._blocks is None or self._publish_blocks is None:
            return
        before = len(self._blocks.blocks)
        failure = self._blocks.answered(message, self._kept() if self._kept is not None else None)
        if failure is not None:
            raise Failed(failure)
        if len(self._blocks.blocks) > before:
            self._publish_blocks(tuple(self._blocks.blocks))

    def finish(self) -> tuple[list[ModelResponseStream], Outcome]:
        """The usage chunk and the finish chunk once the answer is complete, and its outcome."""
        if not self.complete:
            raise Failed(Failure(status=502, message="Claude Code ended without a result"))
        reason = self._ending.finish_reason(cut=self._stops is not None and self._stops.hit)
        usage = self._ending.usage()
        searches = self._searches()
        if searches:
            usage.server_tool_use = ServerToolUse(web_search_requests=searches)
        chunks = [self._chunks.usage(usage), self._chunks.finish(reason)]
        self._recorder.dropped = self._limit is not None and self._limit.dropped
        return chunks, Outcome(self._recorder.held(self._ending.settled), usage)

    def _searches(self) -> int:
        """Web searches the answer made: the result's count per model, else the tool results'."""
        if self._sources is None:
            return 0
        models = (self._ending.result.model_usage if self._ending.result else None) or {}
        counted = sum(u.get("webSearchRequests") or 0 for u in models.values() if isinstance(u, Mapping))
        return int(counted) or self._sources.searches

    def _on_event(self, message: sdk.StreamEvent) -> list[ModelResponseStream]:
        if message.parent_tool_use_id is not None:
            return []  # a sub-agent's stream, not the answer
        event = message.event
        kind = event.get("type")
        if kind == "message_start":
            started = event.get("message") or {}
            self._whole.started(started.get("id"))
            self._chunks.answered_by(started.get("model"))
        elif kind == "message_delta":
            self._ending.stopped((event.get("delta") or {}).get("stop_reason"), streamed=True)
        parsed = self._parser.chunk_parser(event)
        usage = getattr(parsed, "usage", None)  # a ModelResponseStream made without usage has no such attribute
        if usage is not None:
            self._ending.counted(usage)
        delta = parsed.choices[0].delta if parsed.choices else None
        chunks = []
        if delta is not None and has_content(delta):
            self._whole.streamed()
            chunks = self._send([_clean_delta(delta)])
        return chunks + self._ended_now()

    def _on_assistant(self, message: sdk.AssistantMessage) -> list[ModelResponseStream]:
        if message.parent_tool_use_id is not None:
            return []
        if message.error is not None:
            self._failures.errored(message.error)
            return []
        if self._calls is not None:
            self._calls.called(message)
        self._chunks.answered_by(message.model)
        self._ending.stopped(message.stop_reason, streamed=False)
        return self._send(self._whole.deltas(message))

    def _on_result(self, message: sdk.ResultMessage) -> list[ModelResponseStream]:
        if message.is_error:
            raise Failed(self._failures.of(message))
        self._ending.ended(message)
        return self._ended_now()

    def _ended_now(self) -> list[ModelResponseStream]:
        """The filters' tails, as soon as the answer is over."""
        if not self.complete:
            return []
        return [self._chunks.content(delta) for delta in self._filters.flush(self._ending.result)]

    def _send(self, deltas: list[Delta]) -> list[ModelResponseStream]:
        return [self._chunks.content(out) for delta in deltas for out in self._filters.feed(delta)]


class WholeMessages:
    """Deltas of whole ``AssistantMessage``s, for the API messages that were not streamed.

    The CLI may answer without stream events (a non-streaming retry): the
    whole message then arrives at once and is sent as one delta per block; a
    message whose content came as stream events is not sent again.
    """

    def __init__(self, tool_names: Mapping[str, str]) -> None:
        self._tool_names = tool_names
        self._tool_calls = 0  # tool calls sent from whole messages, for their index
        self._streamed: set[str] = set()  # message ids whose content came as deltas
        self._message_id: str | None = None  # the API message streaming now

    def started(self, message_id: str | None) -> None:
        self._message_id = message_id

    def streamed(self) -> None:
        if self._message_id:
            self._streamed.add(self._message_id)

    def deltas(self, message: sdk.AssistantMessage) -> list[Delta]:
        if message.message_id in self._streamed:
            return []
        deltas = []
        for block in message.content:
            if isinstance(block, sdk.TextBlock) and block.text:
                deltas.append(Delta(content=block.text))
            elif isinstance(block, sdk.ThinkingBlock) and block.thinking:
                deltas.append(Delta(reasoning_content=block.thinking))
            elif isinstance(block, sdk.ToolUseBlock):
                deltas.append(Delta(tool_calls=[self._tool_call(block)]))
        return deltas

    def _tool_call(self, block: sdk.ToolUseBlock) -> dict[str, Any]:
        index, self._tool_calls = self._tool_calls, self._tool_calls + 1
        function = {"name": self._tool_names.get(block.name, block.name), "arguments": json.dumps(block.input)}
        return {"id": block.id, "type": "function", "index": index, "function": function}


def translator_for(
    model: str,
    controls: Controls,
    search_calls_key: str | None = None,
    search_blocks_key: str | None = None,
    kept: Callable[[], Kept | None] | None = None,
) -> StreamTranslator:
    """The translator of a request's turn: its stop sequences, output, tools and search
    (``search_calls_key``: where its web_search_call items are published, ``search.PUBLISHED``;
    ``search_blocks_key``: where the API's search blocks are, ``search.PUBLISHED_BLOCKS``, taken
    from what the search forwarder ``kept``)."""
    return StreamTranslator(
        model,
        stop=controls.stop,
        json_output=controls.output_schema is not None,
        max_tool_calls=None if controls.tools.parallel else 1,
        tool_names={k: v for k, v in controls.tools.cli_names.items() if k != v},
        search=controls.search is not None,
        publish=partial(PUBLISHED.put, search_calls_key) if search_calls_key else None,
        publish_blocks=partial(PUBLISHED_BLOCKS.put, search_blocks_key) if search_blocks_key else None,
        kept=kept,
    )


def _clean_delta(delta: Delta) -> Delta:
    """Only what an answer's delta carries: the parser's deltas hold empty fields OpenAI clients do not expect."""
    fields: dict[str, Any] = {"content": delta.content or None}
    if getattr(delta, "reasoning_content", None):
        fields["reasoning_content"] = delta.reasoning_content
        fields["thinking_blocks"] = getattr(delta, "thinking_blocks", None)
    if delta.tool_calls:
        fields["tool_calls"] = delta.tool_calls
    return Delta(**fields)
