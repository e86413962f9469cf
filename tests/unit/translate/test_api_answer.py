"""The API's answer read from its bytes: streamed or whole, compressed or not, its blocks as the API gave them."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest

from litellm_claude_code.translate.api_answer import Answer, Unreadable

USE = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rain"}}
RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [
        {
            "type": "web_search_result",
            "url": "https://example.com/rain",
            "title": "Rain",
            "encrypted_content": "enc-0",
            "page_age": None,
        }
    ],
}
CITATION = {
    "type": "web_search_result_location",
    "url": "https://example.com/rain",
    "title": "Rain",
    "encrypted_index": "idx-0",
    "cited_text": "It rains 120 days a year.",
}
CITED = {"type": "text", "text": "It rains 120 days a year.", "citations": [CITATION]}
THINKING = {"type": "thinking", "thinking": "Search first.", "signature": "sig=="}
CONTENT = [THINKING, USE, RESULT, CITED]


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _stream(end: bool = True) -> bytes:
    """The API's stream of CONTENT, each block as the API streams it."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m", "usage": {}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    starts_and_deltas: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        (
            {"type": "thinking", "thinking": "", "signature": ""},
            [
                {"type": "thinking_delta", "thinking": "Search "},
                {"type": "thinking_delta", "thinking": "first."},
                {"type": "signature_delta", "signature": "sig=="},
            ],
        ),
        (
            {**USE, "input": {}},
            [
                {"type": "input_json_delta", "partial_json": '{"query"'},
                {"type": "input_json_delta", "partial_json": ': "rain"}'},
            ],
        ),
        (RESULT, []),
        (
            {"type": "text", "text": "", "citations": None},
            [
                {"type": "citations_delta", "citation": CITATION},
                {"type": "text_delta", "text": "It rains 120 days"},
                {"type": "text_delta", "text": " a year."},
            ],
        ),
    ]
    for index, (start, deltas) in enumerate(starts_and_deltas):
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}})
    if end:
        events.append({"type": "message_stop"})
    return b"".join(_sse(e) for e in events)


def _fed(answer: Answer, body: bytes, size: int) -> list[bool]:
    """Feed ``body`` ``size`` bytes at a time; whether the answer was done after each."""
    done = []
    for at in range(0, len(body), size):
        answer.feed(body[at : at + size])
        done.append(answer.done)
    return done


@pytest.mark.parametrize("size", [1, 7, 100, 100_000])
def test_a_stream_read_in_pieces_of_any_size_gives_the_blocks_as_the_api_gave_them(size: int) -> None:
    answer = Answer("text/event-stream; charset=utf-8")
    done = _fed(answer, _stream(), size)
    assert done[-1]  # done once message_stop is in, not before
    assert done.index(True) == (len(_stream()) - 1) // size
    assert answer.content() == CONTENT
    assert answer.finish() == CONTENT


def test_done_at_message_stop_before_the_body_ends() -> None:
    """The forwarder keeps the answer at message_stop, before the CLI has the last bytes."""
    answer = Answer("text/event-stream")
    answer.feed(_stream(end=False))
    assert not answer.done
    answer.feed(_sse({"type": "message_stop"}))
    assert answer.done
    assert answer.content() == CONTENT


def test_a_stream_with_crlf_lines_and_pings() -> None:
    body = b'event: ping\r\ndata: {"type": "ping"}\r\n\r\n: a comment\r\n\r\n' + _stream().replace(b"\n", b"\r\n")
    answer = Answer("text/event-stream")
    answer.feed(body)
    assert answer.content() == CONTENT


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", lambda data: gzip.compress(data)),
        ("x-gzip", lambda data: gzip.compress(data)),
        ("deflate", lambda data: zlib.compress(data)),
        ("identity", lambda data: data),
        ("", lambda data: data),
    ],
)
def test_compressed_streams(encoding: str, pack: Any) -> None:
    answer = Answer("text/event-stream", encoding)
    _fed(answer, pack(_stream()), 13)
    assert answer.finish() == CONTENT


def test_a_gzip_stream_flushed_event_by_event_is_done_as_soon_as_its_last_event_arrives() -> None:
    packer = zlib.compressobj(wbits=31)
    answer = Answer("text/event-stream", "gzip")
    answer.feed(packer.compress(_stream()) + packer.flush(zlib.Z_SYNC_FLUSH))
    assert answer.done
    assert answer.content() == CONTENT


def test_a_whole_answer_is_its_content_as_sent() -> None:
    message = {"id": "msg_1", "type": "message", "content": CONTENT, "usage": {"server_tool_use": {"x": 1}}}
    answer = Answer("application/json", "gzip")
    _fed(answer, gzip.compress(json.dumps(message).encode()), 50)
    assert not answer.done
    assert answer.finish() == CONTENT


@pytest.mark.parametrize(
    ("content_type", "encoding", "body", "why"),
    [
        ("text/event-stream", "br", b"", "content-encoding 'br' cannot be read"),
        ("text/event-stream", "gzip", b"not gzip at all", "the body does not decode"),
        ("text/event-stream", "", _stream(end=False), "the stream ended before message_stop"),
        ("text/event-stream", "", b"data: {not json\n\n", "an event is not JSON"),
        (
            "text/event-stream",
            "",
            _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            'the stream ended with an error: {"type": "overloaded_error", "message": "Overloaded"}',
        ),
        (
            "text/event-stream",
            "",
            _sse({"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "x"}}),
            "a delta for block 3, which never started",
        ),
        (
            "text/event-stream",
            "",
            _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
            + _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "future_delta", "x": 1}}),
            "a delta of unknown type 'future_delta'",
        ),
        ("application/json", "", b"{truncated", "the body is not JSON"),
        ("application/json", "", b'{"type": "error"}', "the body is not a message"),
    ],
)
def test_what_cannot_be_read_says_why(content_type: str, encoding: str, body: bytes, why: str) -> None:
    def read() -> None:
        answer = Answer(content_type, encoding)
        answer.feed(body)
        answer.finish()

    with pytest.raises(Unreadable) as raised:
        read()
    assert str(raised.value).startswith(why)
