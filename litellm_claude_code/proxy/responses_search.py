"""/v1/responses with web search: the ``web_search_call`` items, where OpenAI's API puts them (issue 23).

LiteLLM serves /v1/responses for a chat provider through its Responses <->
chat bridge, which cannot place a search the provider ran itself: it builds a
``web_search_call`` item only from a chat tool call, lists it after the
message when not streaming, and streams its events once the text is done. On
OpenAI's API the item precedes the answer it fed, whole and streamed. So:

- before the bridge (``prepare``), a request with a ``web_search`` tool gets a
  key in its metadata, under which the provider publishes the answer's
  ``web_search_call`` items as its searches complete (``search.PUBLISHED``);
- a whole response gets them before its message (``place``);
- a stream gets each one's events (``output_item.added``,
  ``web_search_call.in_progress`` / ``searching`` / ``completed``,
  ``output_item.done``) as soon as the search has run, which is before the
  text it fed (``SearchEvents``); the events after it shift their
  ``output_index``, every event is numbered again, and the final response lists
  the items in that order. The bridge's ``content_part.done`` also loses the
  text's ``url_citation`` annotations (each becomes ``{}``): they are put back,
  as its ``output_text.annotation.added`` events gave them.

And the ``web_search_call`` items a client sends back with its earlier output
(Codex does) are dropped before the bridge, which would make each an
assistant message, ``Hosted web search: {...}``, that the model never wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from litellm.types.llms.openai import (
    BaseLiteLLMOpenAIResponseObject,
    OutputItemAddedEvent,
    OutputItemDoneEvent,
    ResponsesAPIResponse,
    ResponsesAPIStreamEvents,
    WebSearchCallCompletedEvent,
    WebSearchCallInProgressEvent,
    WebSearchCallSearchingEvent,
)

from ..translate.search import PUBLISHED, WEB_SEARCH_CALLS_METADATA_KEY, Published

SEARCH_TOOLS = frozenset({"web_search", "web_search_preview"})
# The Responses ``include`` value that asks for the pages each search found.
SOURCES = "web_search_call.action.sources"
# Events that come before any output item (their response is still empty).
_OPENING = (ResponsesAPIStreamEvents.RESPONSE_CREATED, ResponsesAPIStreamEvents.RESPONSE_IN_PROGRESS)


def prepare(data: dict[str, Any]) -> None:
    """A /v1/responses request, before LiteLLM's bridge: its search key, and no replayed search items."""
    given = data.get("input")
    if isinstance(given, list):
        data["input"] = [item for item in given if not _is_search_call(item)]
    metadata = data.get("litellm_metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        data["litellm_metadata"] = metadata
    metadata.pop(WEB_SEARCH_CALLS_METADATA_KEY, None)  # ours to set, never the client's
    tools = data.get("tools")
    listed: list[Any] = tools if isinstance(tools, list) else []
    if any(isinstance(tool, Mapping) and tool.get("type") in SEARCH_TOOLS for tool in listed):
        metadata[WEB_SEARCH_CALLS_METADATA_KEY] = uuid.uuid4().hex


def key_of(data: Mapping[str, Any]) -> str | None:
    """The search key ``prepare`` gave the request, if it asked for search."""
    metadata = data.get("litellm_metadata")
    key = metadata.get(WEB_SEARCH_CALLS_METADATA_KEY) if isinstance(metadata, Mapping) else None
    return key if isinstance(key, str) else None


def place(data: Mapping[str, Any], response: ResponsesAPIResponse, published: Published = PUBLISHED) -> None:
    """A whole response: its searches before the first item that is not reasoning (the message, a call)."""
    key = key_of(data)
    items = [_item(found, _with_sources(data)) for found in published.pop(key)] if key else []
    if not items:
        return
    output: list[Any] = list(response.output)
    at = next((i for i, item in enumerate(output) if _type_of(item) != "reasoning"), len(output))
    response.output = [*output[:at], *items, *output[at:]]


class SearchEvents:
    """A stream's events with its searches' events in place (see the module's docstring)."""

    def __init__(self, data: Mapping[str, Any], key: str, published: Published = PUBLISHED) -> None:
        self._key = key
        self._published = published
        self._sources = _with_sources(data)
        self._sent = 0  # searches sent so far
        self._number = 0  # the next event's sequence_number
        self._next_index = 0  # the next output item's output_index
        self._indexes: dict[int, int] = {}  # the bridge's output_index -> ours
        self._positions: dict[str, int] = {}  # output item id -> its output_index
        self._annotations: dict[tuple[object, object], list[Any]] = {}  # (item id, content index) -> annotations

    async def events(self, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for event in stream:
                if getattr(event, "type", None) not in _OPENING:
                    for search_event in self._searches():
                        yield search_event
                yield self._numbered(self._placed(event))
        finally:
            self._published.pop(self._key)

    def _searches(self) -> list[Any]:
        """The events of searches that have run since the last event."""
        found = self._published.get(self._key)[self._sent :]
        self._sent += len(found)
        out: list[Any] = []
        for published in found:
            item = _item(published, self._sources)
            index = self._next_index
            self._next_index += 1
            self._positions[item["id"]] = index
            out += [self._numbered(event) for event in _search_events(item, index)]
        return out

    def _placed(self, event: Any) -> Any:
        update: dict[str, Any] = {}
        index = getattr(event, "output_index", None)
        if isinstance(index, int):
            if index not in self._indexes:
                self._indexes[index] = self._next_index
                self._next_index += 1
            update["output_index"] = self._indexes[index]
            item_id = getattr(getattr(event, "item", None), "id", None)
            if isinstance(item_id, str):
                self._positions.setdefault(item_id, update["output_index"])
        response = getattr(event, "response", None)
        if isinstance(response, ResponsesAPIResponse) and self._positions:
            update["response"] = self._listed(response)
        part = (getattr(event, "item_id", None), getattr(event, "content_index", None))
        kind = getattr(event, "type", None)
        if kind == ResponsesAPIStreamEvents.OUTPUT_TEXT_ANNOTATION_ADDED:
            self._annotations.setdefault(part, []).append(getattr(event, "annotation", None))
        elif kind == ResponsesAPIStreamEvents.CONTENT_PART_DONE and part in self._annotations:
            annotations = [BaseLiteLLMOpenAIResponseObject(**a) for a in self._annotations[part] if isinstance(a, dict)]
            update["part"] = event.part.model_copy(update={"annotations": annotations})
        return event.model_copy(update=update) if update else event

    def _listed(self, response: ResponsesAPIResponse) -> ResponsesAPIResponse:
        """The final response's output: the items in the order their events went out, searches included."""
        searches = {s["id"]: s for s in (_item(found, self._sources) for found in self._published.get(self._key))}
        sent = [searches[i] for i in self._positions if i in searches]
        output = [item for item in response.output if _id_of(item) not in searches] + sent
        late = len(self._positions)  # items the stream never announced keep the bridge's order, last
        positions = [self._positions.get(_id_of(item) or "", late) for item in output]
        ordered = sorted(range(len(output)), key=lambda i: (positions[i], i))
        return response.model_copy(update={"output": [output[i] for i in ordered]})

    def _numbered(self, event: Any) -> Any:
        numbered = event.model_copy(update={"sequence_number": self._number})
        self._number += 1
        return numbered


def _search_events(item: dict[str, Any], index: int) -> list[Any]:
    """How OpenAI's API streams one search: the item added, searching, then done with its action."""
    action = {key: value for key, value in item["action"].items() if key != "sources"}
    running = {**item, "status": "in_progress", "action": action}
    events = ResponsesAPIStreamEvents
    return [
        OutputItemAddedEvent(
            type=events.OUTPUT_ITEM_ADDED, output_index=index, item=BaseLiteLLMOpenAIResponseObject(**running)
        ),
        WebSearchCallInProgressEvent(type=events.WEB_SEARCH_CALL_IN_PROGRESS, output_index=index, item_id=item["id"]),
        WebSearchCallSearchingEvent(type=events.WEB_SEARCH_CALL_SEARCHING, output_index=index, item_id=item["id"]),
        WebSearchCallCompletedEvent(type=events.WEB_SEARCH_CALL_COMPLETED, output_index=index, item_id=item["id"]),
        OutputItemDoneEvent(
            type=events.OUTPUT_ITEM_DONE, output_index=index, item=BaseLiteLLMOpenAIResponseObject(**item)
        ),
    ]


def _item(published: Mapping[str, Any], sources: bool) -> dict[str, Any]:
    """A published search (built by LiteLLM's ``build_web_search_call``: ``search.SearchCalls``) as the
    client's item: the pages it found only when ``include`` asks for them."""
    action = {key: value for key, value in published["action"].items() if sources or key != "sources"}
    return {**published, "action": action}


def _with_sources(data: Mapping[str, Any]) -> bool:
    include = data.get("include")
    return isinstance(include, list) and SOURCES in include


def _is_search_call(item: object) -> bool:
    kind = item.get("type") if isinstance(item, Mapping) else getattr(item, "type", None)
    return kind == "web_search_call"


def _type_of(item: object) -> object:
    return item.get("type") if isinstance(item, Mapping) else getattr(item, "type", None)


def _id_of(item: object) -> str | None:
    found = item.get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
    return found if isinstance(found, str) else None
