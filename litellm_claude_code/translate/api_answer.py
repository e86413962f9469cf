"""The Messages API's answer to one request, read from the bytes it sent: its content blocks as the API gave them.

The search forwarder (``runtime.forwarder``) passes the API's answer to Claude
Code's search request on byte for byte and keeps a copy read here: the body
decoded as its ``content-encoding`` says, then either the whole JSON message
or its server-sent events assembled into the message's blocks, the way the
API documents its stream (a block's start, then its deltas: ``text_delta``,
``citations_delta``, ``input_json_delta``, ``thinking_delta``,
``signature_delta``). A pure state machine: ``feed`` bytes as they come,
``content`` once ``done``, ``finish`` at the end of the body.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

# What ``feed`` can read; another encoding is an ``Unreadable`` answer.
DECODABLE = ("gzip", "x-gzip", "deflate", "identity")


class Unreadable(ValueError):
    """An answer that cannot be read (encoding, shape, an error event): why, for the log and the client."""


def _decompressor(encoding: str) -> Any:
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped, as HTTP's deflate is
    raise Unreadable(f"content-encoding {encoding!r} cannot be read")


class Answer:
    """One answer's content blocks, from its body (``content_type`` and ``content_encoding`` from its headers)."""

    def __init__(self, content_type: str, content_encoding: str = "") -> None:
        self._streamed = content_type.split(";", 1)[0].strip().lower() == "text/event-stream"
        self._decompress = _decompressor(content_encoding)
        self._body = b""  # a whole answer's body, or a stream's unfinished event
        self._blocks: dict[int, dict[str, Any]] = {}
        self._inputs: dict[int, str] = {}  # a block's input_json_delta parts so far
        self._content: list[dict[str, Any]] | None = None

    @property
    def done(self) -> bool:
        """The whole message has been read (a stream's ``message_stop``, or the end of a whole body)."""
        return self._content is not None

    def content(self) -> list[dict[str, Any]]:
        assert self._content is not None, "read only once done"
        return self._content

    def feed(self, data: bytes) -> None:
        """The next bytes of the body; raises ``Unreadable``."""
        try:
            data = self._decompress.decompress(data) if self._decompress is not None else data
        except zlib.error as error:
            raise Unreadable(f"the body does not decode: {error}") from None
        self._take(data)

    def _take(self, data: bytes) -> None:
        self._body += data
        if not self._streamed:
            return
        while not self.done:
            end = _event_end(self._body)
            if end is None:
                return
            event, self._body = self._body[: end[0]], self._body[end[1] :]
            self._on(event)

    def finish(self) -> list[dict[str, Any]]:
        """The content at the end of the body; raises ``Unreadable`` when the message is not whole."""
        if self._decompress is not None:
            try:
                self._take(self._decompress.flush())
            except zlib.error as error:
                raise Unreadable(f"the body does not decode: {error}") from None
        if not self._streamed and not self.done:
            try:
                message = json.loads(self._body)
            except ValueError as error:
                raise Unreadable(f"the body is not JSON: {error}") from None
            content = message.get("content") if isinstance(message, Mapping) else None
            if not isinstance(content, list):
                raise Unreadable("the body is not a message")
            self._content = content
        if not self.done:
            raise Unreadable("the stream ended before message_stop")
        return self.content()

    def _on(self, raw: bytes) -> None:
        data = [line[5:].strip() for line in raw.decode("utf-8", "replace").splitlines() if line.startswith("data:")]
        if not data:
            return  # a comment, or an event without data
        try:
            event = json.loads("\n".join(data))
        except ValueError as error:
            raise Unreadable(f"an event is not JSON: {error}") from None
        kind = event.get("type") if isinstance(event, Mapping) else None
        if kind == "error":
            raise Unreadable(f"the stream ended with an error: {json.dumps(event.get('error'))[:200]}")
        if kind == "message_start":
            given = (event.get("message") or {}).get("content") or []
            self._blocks = {i: dict(block) for i, block in enumerate(given)}
        elif kind == "content_block_start":
            self._blocks[int(event["index"])] = dict(event["content_block"])
        elif kind == "content_block_delta":
            self._delta(int(event["index"]), event["delta"])
        elif kind == "content_block_stop":
            index = int(event["index"])
            if index in self._inputs:
                parts = self._inputs.pop(index)
                self._block(index)["input"] = json.loads(parts) if parts.strip() else {}
        elif kind == "message_stop":
            self._content = [self._blocks[i] for i in sorted(self._blocks)]

    def _block(self, index: int) -> dict[str, Any]:
        if index not in self._blocks:
            raise Unreadable(f"a delta for block {index}, which never started")
        return self._blocks[index]

    def _delta(self, index: int, delta: Mapping[str, Any]) -> None:
        block, kind = self._block(index), delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta["text"]
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or []), delta["citation"]]
        elif kind == "input_json_delta":
            self._inputs[index] = self._inputs.get(index, "") + delta["partial_json"]
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
        elif kind == "signature_delta":
            block["signature"] = block.get("signature", "") + delta["signature"]
        else:
            raise Unreadable(f"a delta of unknown type {kind!r}")


def _event_end(body: bytes) -> tuple[int, int] | None:
    """Where the first event of ``body`` ends and the next begins (a blank line, however the lines end)."""
    ends = [(found, found + len(mark)) for mark in (b"\r\n\r\n", b"\n\n", b"\r\r") if (found := body.find(mark)) >= 0]
    return min(ends) if ends else None
