"""A conversation's first answer replayed into a process from a loopback Messages API (issue 19).

Claude Code attaches its "# Environment" note (which also carries the turn's
effort) right after the first user turn of a conversation that it *queries*,
and keeps it there; a history fed as ``shouldQuery: false`` frames gets an empty
system message there instead and the note after the newest turn. So a
conversation that moves to another process (its own was reused or retired,
another replica, a restarted proxy) would diverge, right after its first user
turn, from what its earlier requests wrote to Anthropic's prompt cache.

So the first user turn of a fed history is queried for real, with the
process's API pointed (``apply_flag_settings``, ``env.ANTHROPIC_BASE_URL``) at
this server, which streams back exactly the assistant turn the client says
followed it; the API is pointed back, and the rest of the history is fed as
before. The process then holds the conversation as one that answered it
itself would, and its next request upstream is the same (measured at the
mock: ``tests/e2e/test_moves.py``). The server listens on 127.0.0.1 only (the
CLI sends it the account's token) and answers each replay once, by an
unguessable path; nothing else is served.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

# Blocks an assistant turn may hold for it to be replayed as the model's stream would give it,
# with the fields a stream carries (a block with more, citations say, would be held without them).
REPLAYABLE = {
    "text": {"type", "text", "cache_control"},
    "thinking": {"type", "thinking", "signature", "cache_control"},
    "redacted_thinking": {"type", "data", "cache_control"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
}


def replayable(turns: Sequence[Mapping[str, Any]], tool_names: frozenset[str]) -> bool:
    """The history starts with a plain user turn and an answer that can be replayed:
    its blocks are of the kinds a stream carries, its tool calls among the offered tools."""
    if len(turns) < 2 or turns[0].get("role") != "user" or turns[1].get("role") != "assistant":
        return False
    asked, answer = turns[0].get("content"), turns[1].get("content")
    if isinstance(asked, list) and any(b.get("type") == "tool_result" for b in asked):
        return False
    if not isinstance(answer, list) or not answer:
        return isinstance(answer, str) and bool(answer)
    return all(
        isinstance(b, Mapping)
        and set(b) <= REPLAYABLE.get(str(b.get("type")), set())
        and (b.get("type") != "tool_use" or b.get("name") in tool_names)
        for b in answer
    )


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _block_events(index: int, block: Mapping[str, Any]) -> list[bytes]:
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block.get("text", "")}]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block.get("thinking", "")},
            {"type": "signature_delta", "signature": block.get("signature", "")},
        ]
    elif kind == "redacted_thinking":
        start, deltas = {"type": "redacted_thinking", "data": block.get("data", "")}, []
    else:  # tool_use
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}]
    events = [_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
    events += [
        _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas
    ]
    return [*events, _sse("content_block_stop", {"type": "content_block_stop", "index": index})]


def stream(blocks: Sequence[Mapping[str, Any]], model: str) -> bytes:
    """The Messages API's stream of an answer made of ``blocks``."""
    usage = {"input_tokens": 0, "output_tokens": 0}
    message: dict[str, Any] = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    events = [_sse("message_start", {"type": "message_start", "message": message})]
    for index, block in enumerate(blocks):
        events += _block_events(index, block)
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    delta = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage}
    events += [_sse("message_delta", delta), _sse("message_stop", {"type": "message_stop"})]
    return b"".join(events)


class ReplayServer:
    """Answers, once each, the requests of processes told to replay an answer."""

    def __init__(self) -> None:
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def expect(self, content: str | list[dict[str, Any]]) -> tuple[str, str]:
        """(a token for ``forget``, the base URL a process's API is pointed at to be answered ``content``)."""
        port = await self._started()
        token = secrets.token_urlsafe(24)
        self._answers[token] = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        return token, f"http://127.0.0.1:{port}/replay/{token}"

    def forget(self, token: str) -> None:
        self._answers.pop(token, None)

    async def _started(self) -> int:
        if self._port is None:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_post("/replay/{token}/v1/messages", self._messages)
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            sockets = getattr(site._server, "sockets", None) or []
            self._runner, self._port = runner, int(sockets[0].getsockname()[1])
        return self._port

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        blocks = self._answers.pop(request.match_info["token"], None)
        if blocks is None:
            error = {"type": "error", "error": {"type": "not_found_error", "message": "no replay here"}}
            return web.json_response(error, status=404)
        body = await request.json()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(stream(blocks, str(body.get("model") or "")))
        await response.write_eof()
        return response

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner, self._port = None, None
