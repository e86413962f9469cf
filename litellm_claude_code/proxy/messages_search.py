"""/v1/messages with the ``web_search`` server tool: the API's own search blocks in the answer (issue 29).

LiteLLM serves /v1/messages for a chat provider through its Anthropic <->
chat adapter, which carries text, thinking and tool calls only. The
``server_tool_use`` and ``web_search_tool_result`` blocks of the searches the
answer made (the API's answers to Claude Code's search requests, kept by the
search forwarder: ``runtime.forwarder``) are put in by the proxy's hooks:

- before the adapter (``prepare``), a request offering a ``web_search_*``
  server tool gets a key in its metadata, under which the provider publishes
  each search's blocks as soon as its result comes in (``search.PUBLISHED_BLOCKS``);
- a whole answer gets them before its first block that is not thinking (``place``);
- a stream gets each search's blocks as soon as it has run, as the API
  streams them (a ``server_tool_use`` starts with an empty input, which one
  ``input_json_delta`` fills; a ``web_search_tool_result`` arrives whole in its
  start), ahead of the text the search fed: a text or thinking block open at
  that moment is closed first and goes on as a new block after them, and
  every block after them is numbered again (``SearchFrames``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from litellm.llms.anthropic.pass_through.utils import anthropic_sse_frame

from ..translate.search import PUBLISHED_BLOCKS, WEB_SEARCH_BLOCKS_METADATA_KEY, Published

# Blocks the adapter may have open when a search comes in that go on as a new block after it.
_SPLITTABLE = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": "", "signature": ""}}


def prepare(data: dict[str, Any]) -> None:
    """A /v1/messages request, before LiteLLM's adapter: its search key when it offers the server tool."""
    metadata = data.get("litellm_metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        data["litellm_metadata"] = metadata
    metadata.pop(WEB_SEARCH_BLOCKS_METADATA_KEY, None)  # ours to set, never the client's
    tools = data.get("tools")
    listed: list[Any] = tools if isinstance(tools, list) else []
    if any(isinstance(t, Mapping) and str(t.get("type", "")).startswith("web_search_") for t in listed):
        metadata[WEB_SEARCH_BLOCKS_METADATA_KEY] = uuid.uuid4().hex


def key_of(data: Mapping[str, Any]) -> str | None:
    """The search key ``prepare`` gave the request, if it offered the server tool."""
    metadata = data.get("litellm_metadata")
    key = metadata.get(WEB_SEARCH_BLOCKS_METADATA_KEY) if isinstance(metadata, Mapping) else None
    return key if isinstance(key, str) else None


def place(data: Mapping[str, Any], response: dict[str, Any], published: Published = PUBLISHED_BLOCKS) -> None:
    """A whole answer: its searches' blocks before its first block that is not thinking."""
    key = key_of(data)
    blocks = list(published.pop(key)) if key else []
    content = response.get("content")
    if not blocks or not isinstance(content, list):
        return
    at = next((i for i, b in enumerate(content) if _type(b) not in ("thinking", "redacted_thinking")), len(content))
    response["content"] = [*content[:at], *blocks, *content[at:]]


class SearchFrames:
    """A /v1/messages stream (SSE bytes) with its searches' blocks in place: a feed/flush state machine."""

    def __init__(self, key: str, published: Published = PUBLISHED_BLOCKS) -> None:
        self._key, self._published = key, published
        self._buffer = b""
        self._sent = 0  # search blocks sent so far
        self._started = False  # message_start has gone out
        self._next = 0  # the next block's index on the way out
        self._indexes: dict[int, int] = {}  # the adapter's block index -> ours
        self._open: dict[int, str] = {}  # the adapter's open blocks: index -> type
        self._closed: set[int] = set()  # open blocks closed ahead of a search, to go on as new ones

    async def frames(self, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for chunk in stream:
                if not isinstance(chunk, (bytes, str)):
                    yield chunk
                    continue
                for frame in self.feed(chunk.encode() if isinstance(chunk, str) else chunk):
                    yield frame
            if self._buffer:
                yield self.flush()
        finally:
            self._published.pop(self._key)

    def feed(self, data: bytes) -> list[bytes]:
        """The frames ``data`` completes, searches placed; a partial frame waits for the rest."""
        self._buffer += data
        out: list[bytes] = []
        while (end := self._buffer.find(b"\n\n")) >= 0:
            frame, self._buffer = self._buffer[: end + 2], self._buffer[end + 2 :]
            out += self._frame(frame)
        return out

    def flush(self) -> bytes:
        """What is left of the stream that was not a whole frame, as it came."""
        rest, self._buffer = self._buffer, b""
        return rest

    def _frame(self, frame: bytes) -> list[bytes]:
        event = _event(frame)
        kind = event.get("type") if event is not None else None
        if event is None or kind == "message_start":
            self._started = self._started or kind == "message_start"
            return [frame]
        out = self._searches() if self._started else []
        index = event.get("index")
        if kind not in ("content_block_start", "content_block_delta", "content_block_stop") or not isinstance(
            index, int
        ):
            return [*out, frame]
        if kind == "content_block_start":
            self._indexes[index] = self._new_index()
            block = event.get("content_block")
            self._open[index] = str(block.get("type")) if isinstance(block, Mapping) else ""
        elif kind == "content_block_delta" and index in self._closed:
            self._closed.discard(index)  # the block goes on after the searches, as a new one
            self._indexes[index] = self._new_index()
            started = {"type": "content_block_start", "index": self._indexes[index]}
            out.append(anthropic_sse_frame({**started, "content_block": _SPLITTABLE[self._open[index]]}))
        elif kind == "content_block_stop":
            self._open.pop(index, None)
            if index in self._closed:
                self._closed.discard(index)  # closed already, ahead of the searches
                return out
        return [*out, anthropic_sse_frame({**event, "index": self._indexes.get(index, index)})]

    def _searches(self) -> list[bytes]:
        """The frames of search blocks published since the last frame (none while a tool call is open)."""
        blocks = self._published.get(self._key)[self._sent :]
        open_now = {i: t for i, t in self._open.items() if i not in self._closed}
        if not blocks or any(t not in _SPLITTABLE for t in open_now.values()):
            return []
        self._sent += len(blocks)
        out = []
        for index in open_now:
            self._closed.add(index)
            out.append(anthropic_sse_frame({"type": "content_block_stop", "index": self._indexes[index]}))
        for block in blocks:
            out += _block_frames(self._new_index(), block)
        return out

    def _new_index(self) -> int:
        index, self._next = self._next, self._next + 1
        return index


def _block_frames(index: int, block: Mapping[str, Any]) -> list[bytes]:
    """How the API streams a search block: its start (a server_tool_use with an empty input, which
    one input_json_delta fills), then its stop."""
    frames = []
    if block.get("type") == "server_tool_use":
        start = {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
        filled = {"type": "content_block_delta", "index": index, "delta": delta}
        frames = [anthropic_sse_frame(start), anthropic_sse_frame(filled)]
    else:
        frames = [anthropic_sse_frame({"type": "content_block_start", "index": index, "content_block": dict(block)})]
    return [*frames, anthropic_sse_frame({"type": "content_block_stop", "index": index})]


def _event(frame: bytes) -> dict[str, Any] | None:
    data = [line[5:].strip() for line in frame.decode("utf-8", "replace").splitlines() if line.startswith("data:")]
    try:
        event = json.loads("\n".join(data)) if data else None
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _type(block: object) -> object:
    return block.get("type") if isinstance(block, Mapping) else getattr(block, "type", None)
