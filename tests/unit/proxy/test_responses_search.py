"""/v1/responses with web search: web_search_call items placed where OpenAI's API puts them (issue 23)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litellm.types.llms.openai import (
    BaseLiteLLMOpenAIResponseObject,
    ContentPartDoneEvent,
    ContentPartDonePartOutputText,
    OutputItemAddedEvent,
    OutputItemDoneEvent,
    OutputTextAnnotationAddedEvent,
    OutputTextDeltaEvent,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseInProgressEvent,
    ResponsesAPIResponse,
    ResponsesAPIStreamEvents,
)

from litellm_claude_code.proxy import responses_search
from litellm_claude_code.translate.search import WEB_SEARCH_CALLS_METADATA_KEY, Published

EVENTS = ResponsesAPIStreamEvents


def _call(n: int) -> dict[str, Any]:
    action = {"type": "search", "query": f"q{n}", "sources": [{"type": "url", "url": f"https://e.org/{n}"}]}
    return {"id": f"ws_toolu_{n}", "type": "web_search_call", "status": "completed", "action": action}


def _data(key: str = "k", **extra: Any) -> dict[str, Any]:
    return {"litellm_metadata": {WEB_SEARCH_CALLS_METADATA_KEY: key}, **extra}


def _response(*output: dict[str, Any]) -> ResponsesAPIResponse:
    items: list[Any] = list(output)
    return ResponsesAPIResponse(id="resp_1", created_at=1, output=items)


def _output(response: ResponsesAPIResponse) -> list[dict[str, Any]]:
    dumped: list[dict[str, Any]] = response.model_dump(mode="json", exclude_none=True)["output"]
    return dumped


MESSAGE = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": []}
REASONING = {"type": "reasoning", "id": "rs_1", "summary": []}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}", "status": "completed"}


def test_prepare_drops_replayed_search_items_and_keys_a_searched_request() -> None:
    replayed = {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}}
    data: dict[str, Any] = {
        "input": [{"role": "user", "content": "hi"}, replayed, {"type": "message", "role": "assistant", "content": []}],
        "tools": [{"type": "web_search"}],
    }
    responses_search.prepare(data)
    assert [item.get("type") for item in data["input"]] == [None, "message"]
    key = responses_search.key_of(data)
    assert isinstance(key, str)
    assert len(key) == 32  # a fresh uuid4 hex per request


def test_a_request_without_search_gets_no_key_even_when_the_client_sends_one() -> None:
    data: dict[str, Any] = {"input": "hi", "tools": [{"type": "function", "name": "f"}], **_data("theirs")}
    responses_search.prepare(data)
    assert responses_search.key_of(data) is None
    assert data["input"] == "hi"


def test_a_whole_response_lists_its_searches_after_reasoning_before_the_message() -> None:
    published = Published()
    published.put("k", (_call(1), _call(2)))
    response = _response(REASONING, MESSAGE, CALL)
    responses_search.place(_data(), response, published)
    assert [(o["type"], o["id"]) for o in _output(response)] == [
        ("reasoning", "rs_1"),
        ("web_search_call", "ws_toolu_1"),
        ("web_search_call", "ws_toolu_2"),
        ("message", "msg_1"),
        ("function_call", "fc_1"),
    ]
    # the pages found only on request (OpenAI's include), and the items are taken
    assert "sources" not in _output(response)[1]["action"]
    assert published.get("k") == ()


def test_include_asks_for_the_pages_found() -> None:
    published = Published()
    published.put("k", (_call(1),))
    response = _response(MESSAGE)
    responses_search.place(_data(include=["web_search_call.action.sources"]), response, published)
    assert _output(response)[0]["action"]["sources"] == [{"type": "url", "url": "https://e.org/1"}]


def test_a_response_without_searches_is_left_as_it_is() -> None:
    response = _response(MESSAGE)
    responses_search.place({}, response, Published())
    responses_search.place(_data(), response, Published())
    assert [o["id"] for o in _output(response)] == ["msg_1"]


def _item_event(kind: Any, index: int, item: dict[str, Any]) -> Any:
    event_type = OutputItemAddedEvent if kind == EVENTS.OUTPUT_ITEM_ADDED else OutputItemDoneEvent
    return event_type(type=kind, output_index=index, item=BaseLiteLLMOpenAIResponseObject(**item))


def _delta(index: int, text: str) -> OutputTextDeltaEvent:
    return OutputTextDeltaEvent(
        type=EVENTS.OUTPUT_TEXT_DELTA, item_id="msg_1", output_index=index, content_index=0, delta=text
    )


def _bridge_stream(published: Published) -> AsyncIterator[Any]:
    """Events as LiteLLM's bridge sends them for a searched answer: no search item, the message at index 0.
    The search is published while the provider works, before the message's first event is made."""

    async def events() -> AsyncIterator[Any]:
        empty = _response()
        yield ResponseCreatedEvent(type=EVENTS.RESPONSE_CREATED, response=empty)
        yield ResponseInProgressEvent(type=EVENTS.RESPONSE_IN_PROGRESS, response=empty)
        published.put("k", (_call(1),))
        yield _item_event(EVENTS.OUTPUT_ITEM_ADDED, 0, {**MESSAGE, "status": "in_progress"})
        yield _delta(0, "Rain")
        yield _item_event(EVENTS.OUTPUT_ITEM_DONE, 0, MESSAGE)
        yield ResponseCompletedEvent(type=EVENTS.RESPONSE_COMPLETED, response=_response(MESSAGE))

    return events()


def _placed(published: Published, data: dict[str, Any] | None = None) -> list[Any]:
    async def collect() -> list[Any]:
        stream = responses_search.SearchEvents(data or _data(), "k", published).events(_bridge_stream(published))
        return [event async for event in stream]

    return asyncio.run(collect())


def test_a_stream_sends_the_search_first_then_the_message_one_index_on() -> None:
    published = Published()
    events = _placed(published)
    assert [(e.type, getattr(e, "output_index", None)) for e in events] == [
        (EVENTS.RESPONSE_CREATED, None),
        (EVENTS.RESPONSE_IN_PROGRESS, None),
        (EVENTS.OUTPUT_ITEM_ADDED, 0),
        (EVENTS.WEB_SEARCH_CALL_IN_PROGRESS, 0),
        (EVENTS.WEB_SEARCH_CALL_SEARCHING, 0),
        (EVENTS.WEB_SEARCH_CALL_COMPLETED, 0),
        (EVENTS.OUTPUT_ITEM_DONE, 0),
        (EVENTS.OUTPUT_ITEM_ADDED, 1),
        (EVENTS.OUTPUT_TEXT_DELTA, 1),
        (EVENTS.OUTPUT_ITEM_DONE, 1),
        (EVENTS.RESPONSE_COMPLETED, None),
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added, done = events[2].item, events[6].item
    assert (added.status, added.action) == ("in_progress", {"type": "search", "query": "q1"})
    assert (done.status, done.action["query"]) == ("completed", "q1")
    assert "sources" not in done.action
    assert [(o["type"], o["id"]) for o in _output(events[-1].response)] == [
        ("web_search_call", "ws_toolu_1"),
        ("message", "msg_1"),
    ]
    assert published.get("k") == ()  # taken once the stream is over


def test_a_stream_with_include_has_the_pages_in_the_done_item_only() -> None:
    events = _placed(Published(), _data(include=["web_search_call.action.sources"]))
    assert "sources" not in events[2].item.action
    assert events[6].item.action["sources"] == [{"type": "url", "url": "https://e.org/1"}]
    assert _output(events[-1].response)[0]["action"]["sources"] == [{"type": "url", "url": "https://e.org/1"}]


def test_a_stream_gets_back_the_annotations_its_content_part_done_lost() -> None:
    """LiteLLM's bridge types content_part.done's annotations as a bare object: each url_citation
    arrives as {} (found with the openai client); the annotation.added events carry them whole."""
    citation = {"type": "url_citation", "url": "https://e.org/1", "title": "E", "start_index": 0, "end_index": 4}

    async def bridge() -> AsyncIterator[Any]:
        yield OutputTextAnnotationAddedEvent(
            type=EVENTS.OUTPUT_TEXT_ANNOTATION_ADDED,
            item_id="msg_1",
            output_index=0,
            content_index=0,
            annotation_index=0,
            annotation=citation,
        )
        part = ContentPartDonePartOutputText(
            type="output_text", text="Rain", annotations=[BaseLiteLLMOpenAIResponseObject()], logprobs=None
        )
        yield ContentPartDoneEvent(
            type=EVENTS.CONTENT_PART_DONE, item_id="msg_1", output_index=0, content_index=0, part=part
        )

    async def collect() -> list[Any]:
        return [e async for e in responses_search.SearchEvents(_data(), "k", Published()).events(bridge())]

    done = asyncio.run(collect())[-1]
    assert done.model_dump(mode="json")["part"]["annotations"] == [citation]
