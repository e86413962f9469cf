"""The API's search blocks placed in /v1/messages answers, whole and streamed (proxy/messages_search.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from litellm_claude_code.proxy.messages_search import SearchFrames, key_of, place, prepare
from litellm_claude_code.translate.search import WEB_SEARCH_BLOCKS_METADATA_KEY, Published

USE = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rain"}}
RESULT = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"encrypted_content": "e"}]}
TEXT = {"type": "text", "text": ""}
QUERY = '{"query": "rain"}'


def _frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _text(index: int, text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}


def _stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


MESSAGE_START = {"type": "message_start", "message": {"id": "msg", "content": []}}
MESSAGE_DELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}
MESSAGE_STOP = {"type": "message_stop"}
SEARCH_EVENTS = [
    _start(0, {**USE, "input": {}}),
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "input_json_delta", "partial_json": '{"query": "rain"}'},
    },
    _stop(0),
    _start(1, RESULT),
    _stop(1),
]


def _run(script: list[dict[str, Any] | tuple[dict[str, Any], ...]]) -> list[dict[str, Any]]:
    """The adapter's events through SearchFrames; a tuple in ``script`` is blocks published before the next event."""
    published = Published()

    async def adapter() -> AsyncIterator[bytes]:
        blocks: tuple[dict[str, Any], ...] = ()
        for step in script:
            if isinstance(step, tuple):
                blocks += step
                published.put("key", blocks)
            else:
                yield _frame(step)

    async def out() -> list[bytes]:
        return [frame async for frame in SearchFrames("key", published).frames(adapter())]

    frames = asyncio.run(out())
    assert published.get("key") == ()  # taken when the stream ends
    return [json.loads(f.decode().split("data: ", 1)[1]) for f in frames]


def test_a_search_before_the_text_goes_first() -> None:
    out = _run(
        [MESSAGE_START, (USE, RESULT), _start(0, TEXT), _text(0, "Rain."), _stop(0), MESSAGE_DELTA, MESSAGE_STOP]
    )
    assert out == [
        MESSAGE_START,
        *SEARCH_EVENTS,
        _start(2, TEXT),
        _text(2, "Rain."),
        _stop(2),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]


def test_a_search_after_some_text_closes_it_and_the_text_goes_on_as_a_new_block() -> None:
    thinking = {"type": "thinking", "thinking": "", "signature": ""}
    thought = {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm."}}
    out = _run(
        [
            MESSAGE_START,
            _start(0, thinking),
            thought,
            _stop(0),
            _start(1, TEXT),
            _text(1, "Let me search."),
            (USE, RESULT),
            _text(1, "It rains."),
            _stop(1),
            MESSAGE_DELTA,
            MESSAGE_STOP,
        ]
    )
    shifted = [{**e, "index": e["index"] + 2} for e in SEARCH_EVENTS]
    assert out == [
        MESSAGE_START,
        _start(0, thinking),
        thought,
        _stop(0),
        _start(1, TEXT),
        _text(1, "Let me search."),
        _stop(1),
        *shifted,
        _start(4, TEXT),
        _text(4, "It rains."),
        _stop(4),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]


def test_a_search_waits_for_an_open_tool_call_to_end() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}
    arguments = {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}}
    out = _run([MESSAGE_START, _start(0, call), (USE, RESULT), arguments, _stop(0), MESSAGE_DELTA, MESSAGE_STOP])
    assert out == [
        MESSAGE_START,
        _start(0, call),
        arguments,
        _stop(0),
        *[{**e, "index": e["index"] + 1} for e in SEARCH_EVENTS],
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]


def test_two_searches_each_where_it_ran() -> None:
    second_use = {**USE, "id": "srvtoolu_2"}
    second_result = {**RESULT, "tool_use_id": "srvtoolu_2"}
    out = _run(
        [
            MESSAGE_START,
            (USE, RESULT),
            _start(0, TEXT),
            _text(0, "One."),
            (second_use, second_result),
            _text(0, "Two."),
            _stop(0),
            MESSAGE_STOP,
        ]
    )
    assert [(e["type"], e.get("index"), (e.get("content_block") or {}).get("type")) for e in out] == [
        ("message_start", None, None),
        ("content_block_start", 0, "server_tool_use"),
        ("content_block_delta", 0, None),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "web_search_tool_result"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "text"),
        ("content_block_delta", 2, None),
        ("content_block_stop", 2, None),
        ("content_block_start", 3, "server_tool_use"),
        ("content_block_delta", 3, None),
        ("content_block_stop", 3, None),
        ("content_block_start", 4, "web_search_tool_result"),
        ("content_block_stop", 4, None),
        ("content_block_start", 5, "text"),
        ("content_block_delta", 5, None),
        ("content_block_stop", 5, None),
        ("message_stop", None, None),
    ]
    assert out[12]["content_block"]["tool_use_id"] == "srvtoolu_2"


def test_frames_split_anywhere_and_non_json_frames_pass_as_they_came() -> None:
    frames = SearchFrames("key", Published())
    data = _frame(MESSAGE_START) + b": keep-alive\n\n" + _frame(_start(0, TEXT))
    out = [piece for i in range(0, len(data), 5) for piece in frames.feed(data[i : i + 5])]
    assert out == [_frame(MESSAGE_START), b": keep-alive\n\n", _frame(_start(0, TEXT))]
    assert frames.feed(b"event: x\ndata: {") == []
    assert frames.flush() == b"event: x\ndata: {"


def test_a_whole_answer_gets_its_searches_before_its_first_block_that_is_not_thinking() -> None:
    published = Published()
    published.put("key", (USE, RESULT))
    data = {"litellm_metadata": {WEB_SEARCH_BLOCKS_METADATA_KEY: "key"}}
    thinking = {"type": "thinking", "thinking": "Hm.", "signature": "s"}
    response: dict[str, Any] = {"type": "message", "content": [thinking, {"type": "text", "text": "Rain."}]}
    place(data, response, published)
    assert response["content"] == [thinking, USE, RESULT, {"type": "text", "text": "Rain."}]
    assert published.get("key") == ()
    place(data, response, published)  # nothing published (any more): left as it is
    assert len(response["content"]) == 4


def test_only_a_request_offering_the_server_tool_gets_a_key_and_never_the_clients_own() -> None:
    searched: dict[str, Any] = {"tools": [{"type": "web_search_20260209", "name": "web_search"}]}
    prepare(searched)
    assert isinstance(key_of(searched), str)
    plain: dict[str, Any] = {
        "tools": [{"name": "web_search", "input_schema": {}}],  # a client function of that name
        "litellm_metadata": {WEB_SEARCH_BLOCKS_METADATA_KEY: "client-chosen"},
    }
    prepare(plain)
    assert key_of(plain) is None
    assert key_of({}) is None
