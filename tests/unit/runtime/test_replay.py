"""The loopback Messages API that replays a conversation's first answer (runtime/replay.py, issue 19)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from litellm.llms.anthropic.chat.handler import ModelResponseIterator

from litellm_claude_code.runtime.replay import ReplayServer, replayable, stream

ASK = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
TOOLS = frozenset({"lookup"})
CALL = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"key": "a"}}
THINKING = {"type": "thinking", "thinking": "hmm", "signature": "sig"}


@pytest.mark.parametrize(
    ("turns", "ok"),
    [
        ([ASK, {"role": "assistant", "content": "hello"}], True),
        ([ASK, {"role": "assistant", "content": [THINKING, {"type": "text", "text": "hello"}, CALL]}], True),
        ([ASK, {"role": "assistant", "content": [{**CALL, "name": "other"}]}], False),  # not offered
        ([ASK, {"role": "assistant", "content": [{"type": "text", "text": "x", "citations": []}]}], False),
        (
            [ASK, {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search"}]}],
            False,
        ),
        ([ASK, {"role": "assistant", "content": ""}], False),
        ([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}, ASK], False),
        ([ASK], False),
        ([{"role": "assistant", "content": "first"}, ASK], False),
    ],
    ids=[
        "text",
        "thinking-text-call",
        "call-not-offered",
        "text-with-citations",
        "server-tool",
        "empty",
        "tool-results-first",
        "no-answer",
        "assistant-first",
    ],
)
def test_what_can_be_replayed(turns: list[dict[str, Any]], ok: bool) -> None:
    assert replayable(turns, TOOLS) is ok


def _parsed(body: bytes) -> list[dict[str, Any]]:
    events = []
    for chunk in body.decode().split("\n\n"):
        if chunk:
            event, data = chunk.split("\n")
            payload = json.loads(data.removeprefix("data: "))
            assert event == f"event: {payload['type']}"
            events.append(payload)
    return events


def test_the_stream_carries_each_block_as_the_api_streams_it() -> None:
    events = _parsed(stream([THINKING, {"type": "text", "text": "hello"}, CALL], "claude-x"))
    assert [e["type"] for e in events] == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_stop"],
        "message_delta",
        "message_stop",
    ]
    assert events[0]["message"]["model"] == "claude-x"
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    # LiteLLM's own Anthropic stream parser reads it back as the blocks it was made of.
    parser = ModelResponseIterator(streaming_response=None, sync_stream=False)
    text, thinking, arguments = "", "", ""
    for event in events:
        parsed = parser.chunk_parser(event)
        delta = parsed.choices[0].delta if parsed.choices else None
        if delta is None:
            continue
        text += delta.content or ""
        thinking += getattr(delta, "reasoning_content", None) or ""
        for call in delta.tool_calls or []:
            function = getattr(call, "function", None)  # a custom tool call has none
            arguments += (function.arguments if function else None) or ""
    assert (text, thinking, json.loads(arguments)) == ("hello", "hmm", {"key": "a"})
    assert _parsed(stream([{"type": "text", "text": "x"}], "m"))[-2]["delta"]["stop_reason"] == "end_turn"


def test_the_server_answers_each_replay_once_on_loopback_only() -> None:
    async def scenario() -> tuple[int, str, int, int]:
        server = ReplayServer()
        _, url = await server.expect("hello")
        other, forgotten = await server.expect("other")
        server.forget(other)
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:
            first = await http.post(f"{url}/v1/messages", json={"model": "m", "stream": True})
            again = await http.post(f"{url}/v1/messages", json={"model": "m", "stream": True})
            gone = await http.post(f"{forgotten}/v1/messages", json={"model": "m", "stream": True})
        await server.close()
        return first.status_code, first.text, again.status_code, gone.status_code

    status, text, again, gone = asyncio.run(scenario())
    assert status == 200
    assert [e["delta"].get("text") for e in _parsed(text.encode()) if e["type"] == "content_block_delta"] == ["hello"]
    assert (again, gone) == (404, 404)
