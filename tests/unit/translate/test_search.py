"""Web search: web_search_options -> SearchSpec (or a 400), WebSearch in the options, results -> citations."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import claude_agent_sdk as sdk
import pytest
from litellm.types.utils import ModelResponseStream

from litellm_claude_code.errors import Failed, Failure
from litellm_claude_code.runtime.options import SEARCH_TURNS, QueryPlan, build_options
from litellm_claude_code.settings import DeploymentSettings
from litellm_claude_code.translate import search, tools
from litellm_claude_code.translate.params import ParamError, controls_from
from litellm_claude_code.translate.stream import StreamTranslator

from ..sdk_messages import block_stop, event, message_delta, message_start, result, text_delta, text_start

LOCATION = {"type": "approximate", "approximate": {"city": "Rome", "country": "IT"}}


@pytest.mark.parametrize(
    ("options", "spec"),
    [
        ({}, search.SearchSpec()),
        ({"search_context_size": None, "user_location": None}, search.SearchSpec()),
        ({"search_context_size": "low"}, search.SearchSpec(uncarried=("search_context_size",))),
        ({"user_location": LOCATION}, search.SearchSpec(uncarried=("user_location",))),
        ({"filters": {"allowed_domains": ["a.org"]}}, search.SearchSpec(allowed_domains=("a.org",))),
        ({"blocked_domains": ["b.org"]}, search.SearchSpec(blocked_domains=("b.org",))),
    ],
)
def test_web_search_options_read(options: dict[str, Any], spec: search.SearchSpec) -> None:
    assert controls_from({"web_search_options": options}).search == spec


def test_no_web_search_options_no_search() -> None:
    assert controls_from({}).search is None
    assert controls_from({"web_search_options": None}).search is None


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ("yes", "web_search_options must be an object"),
        ({"max_uses": 3}, "unknown fields ['max_uses']"),
        ({"search_context_size": "huge"}, "search_context_size"),
        ({"user_location": "Rome"}, "user_location"),
        ({"user_location": {"type": "exact"}}, "user_location"),
        ({"user_location": {"type": "approximate", "approximate": {"street": "x"}}}, "approximate has unknown"),
        ({"user_location": {"type": "approximate", "approximate": {"city": 3}}}, "user_location.approximate.city"),
        ({"user_location": {"type": "approximate", "extra": 1}}, "user_location has unknown"),
        ({"user_location": {"approximate": "Rome"}}, "user_location.approximate must be"),
        ({"allowed_domains": "a.org"}, "allowed_domains"),
        ({"filters": {"blocked": ["a"]}}, "filters"),
        ({"allowed_domains": ["a.org"], "blocked_domains": ["b.org"]}, "not both"),
    ],
)
def test_malformed_web_search_options_are_a_400_naming_the_field(options: object, named: str) -> None:
    with pytest.raises(ParamError, match=named.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        controls_from({"web_search_options": options})


def _ask(hook: sdk.HookCallback, hook_input: dict[str, Any]) -> dict[str, Any]:
    """What a PreToolUse hook answers (the CLI sends far more fields than these tests need)."""

    async def ask() -> object:
        return await hook(cast(sdk.HookInput, hook_input), "toolu_1", cast(sdk.HookContext, {"signal": None}))

    return cast(dict[str, Any], asyncio.run(ask()))


def _plan(spec: search.SearchSpec | None, functions: tuple[tools.Function, ...] = ()) -> QueryPlan:
    return QueryPlan("sonnet", "Be terse.", "/tmp/x", {}, search=spec, tools=tools.ToolSpec(functions))


def test_search_turns_on_websearch_and_nothing_else() -> None:
    options = build_options(_plan(search.SearchSpec()), DeploymentSettings())
    assert options.tools == ["WebSearch"]
    assert options.allowed_tools == ["WebSearch"]
    assert options.max_turns == SEARCH_TURNS
    plain = build_options(_plan(None), DeploymentSettings())
    assert (plain.tools, plain.allowed_tools, plain.hooks, plain.max_turns) == ([], [], None, 1)


def test_search_beside_the_clients_functions_which_stay_deferred() -> None:
    weather = tools.Function("weather", "", {"type": "object", "properties": {}})
    options = build_options(_plan(search.SearchSpec(), (weather,)), DeploymentSettings())
    assert options.tools == ["WebSearch"]
    assert options.allowed_tools == ["weather", "WebSearch"]
    assert options.hooks is not None
    matchers = options.hooks["PreToolUse"]
    assert [m.matcher for m in matchers] == [None, "WebSearch"]
    defer = matchers[0].hooks[0]
    client_call = _ask(defer, {"tool_name": "weather"})
    search_call = _ask(defer, {"tool_name": "WebSearch"})
    assert client_call["hookSpecificOutput"]["permissionDecision"] == "defer"
    assert search_call == {}


@pytest.mark.parametrize(
    ("spec", "asked", "sent"),
    [
        (search.SearchSpec(), {"query": "q", "allowed_domains": ["x.org"]}, {"query": "q"}),
        (search.SearchSpec(allowed_domains=("a.org",)), {"query": "q"}, {"query": "q", "allowed_domains": ["a.org"]}),
        (
            search.SearchSpec(blocked_domains=("b.org",)),
            {"query": "q", "allowed_domains": ["x.org"]},
            {"query": "q", "blocked_domains": ["b.org"]},
        ),
    ],
)
def test_the_search_hook_allows_with_the_clients_domains(
    spec: search.SearchSpec, asked: dict[str, Any], sent: dict[str, Any]
) -> None:
    hook = search.hook(spec)
    answer = _ask(hook, {"tool_name": "WebSearch", "tool_input": asked})
    specific = answer["hookSpecificOutput"]
    assert specific["permissionDecision"] == "allow"
    assert specific["updatedInput"] == sent


SEARCH_RESULT = {
    "query": "rain",
    "results": [
        {"tool_use_id": "srvtoolu_1", "content": [{"title": "Rain", "url": "https://example.com/rain"}]},
        "A summary the search model wrote.",
    ],
    "durationSeconds": 0.1,
    "searchCount": 1,
}


def test_sources_turn_the_answers_links_into_url_citations() -> None:
    sources = search.Sources()
    sources.add(SEARCH_RESULT)
    sources.add("not a search")
    text = "See [Rain](https://example.com/rain), https://example.com/rain. and [other](https://else.org)."
    annotations = sources.annotations(text)
    first = text.index("[Rain]")
    bare = text.index("https://example.com/rain.")
    assert [a["url_citation"] for a in annotations] == [
        {"url": "https://example.com/rain", "title": "Rain", "start_index": first, "end_index": text.index(",")},
        {"url": "https://example.com/rain", "title": "Rain", "start_index": bare, "end_index": bare + 24},
    ]
    assert sources.searches == 1


def _tool_use_events() -> list[sdk.Message]:
    start = {"type": "tool_use", "id": "toolu_s", "name": "WebSearch", "input": {}}
    delta = {"type": "input_json_delta", "partial_json": json.dumps({"query": "rain"})}
    return [
        message_start("msg_1"),
        text_start(0),
        text_delta("Searching. ", 0),
        block_stop(0),
        event({"type": "content_block_start", "index": 1, "content_block": start}),
        event({"type": "content_block_delta", "index": 1, "delta": delta}),
        block_stop(1),
        message_delta("tool_use"),
    ]


def _searched_answer() -> list[sdk.Message]:
    tool_result = sdk.UserMessage(
        content=[sdk.ToolResultBlock(tool_use_id="toolu_s", content="Web search results ...")],
        tool_use_result=SEARCH_RESULT,
    )
    final = result()
    final.model_usage = {"claude-mock": {"webSearchRequests": 1}}  # type: ignore[typeddict-item]
    return [
        *_tool_use_events(),
        tool_result,
        message_start("msg_2"),
        text_start(0),
        text_delta("Rainy, says [Rain](https://example.com/rain).", 0),
        block_stop(0),
        message_delta("end_turn"),
        final,
    ]


def _run(translator: StreamTranslator, messages: list[sdk.Message]) -> list[ModelResponseStream]:
    chunks = [chunk for message in messages for chunk in translator.feed(message)]
    return chunks + translator.finish()[0]


def test_a_searched_answer_hides_the_search_and_cites_its_pages() -> None:
    chunks = _run(StreamTranslator("sonnet", search=True), _searched_answer())
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    content = "".join(d.content or "" for d in deltas)
    assert content == "Searching. Rainy, says [Rain](https://example.com/rain)."
    assert not any(d.tool_calls for d in deltas)
    annotations = [a for d in deltas for a in getattr(d, "annotations", None) or []]
    start = content.index("[Rain]")
    assert annotations == [
        {
            "type": "url_citation",
            "url_citation": {
                "url": "https://example.com/rain",
                "title": "Rain",
                "start_index": start,
                "end_index": len(content) - 1,
            },
        }
    ]
    usage = next(c.usage for c in chunks if not c.choices)
    assert usage.server_tool_use is not None
    assert usage.server_tool_use.web_search_requests == 1
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_without_search_a_websearch_call_is_not_hidden_and_nothing_counted() -> None:
    chunks = _run(StreamTranslator("sonnet"), [*_tool_use_events(), result()])
    names = [
        getattr(call, "function", None) for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []
    ]
    assert [f.name for f in names if f is not None and f.name] == ["WebSearch"]
    usage = next(c.usage for c in chunks if not c.choices)
    assert getattr(usage, "server_tool_use", None) is None


def test_the_clients_call_after_a_search_keeps_index_zero() -> None:
    translator = StreamTranslator("sonnet", max_tool_calls=1, search=True)
    client = {"type": "tool_use", "id": "toolu_c", "name": "f", "input": {}}
    messages: list[sdk.Message] = [
        *_tool_use_events(),
        message_start("msg_2"),
        event({"type": "content_block_start", "index": 0, "content_block": client}),
        event({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        block_stop(0),
        message_delta("tool_use"),
        result(stop_reason="tool_deferred"),
    ]
    calls = [call for c in _run(translator, messages) if c.choices for call in c.choices[0].delta.tool_calls or []]
    named = [(call.index, getattr(call, "function", None)) for call in calls]
    assert [(index, f.name) for index, f in named if f is not None and f.name] == [(0, "f")]


def test_whole_messages_hide_the_search_call_too() -> None:
    whole = sdk.AssistantMessage(
        content=[
            sdk.TextBlock(text="Searching."),
            sdk.ToolUseBlock(id="toolu_s", name="WebSearch", input={"query": "q"}),
        ],
        model="claude-mock",
        message_id="msg_w",
    )
    chunks = _run(StreamTranslator("sonnet", search=True), [whole, result()])
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == "Searching."
    assert not any(d.tool_calls for d in deltas)


def _search_error(text: str) -> sdk.UserMessage:
    block = sdk.ToolResultBlock(tool_use_id="toolu_s", content=text, is_error=True)
    # the CLI sends a string here, where the SDK types a dict
    return sdk.UserMessage(content=[block], tool_use_result=f"Error: {text}")  # type: ignore[arg-type]


def test_a_search_the_api_refused_is_its_status_and_message() -> None:
    translator = StreamTranslator("sonnet", search=True)
    for message in _tool_use_events():
        translator.feed(message)
    with pytest.raises(Failed) as caught:
        translator.feed(_search_error("Failed to authenticate. API Error: 403 web search is not enabled"))
    assert caught.value.failure == Failure(status=403, message="web search is not enabled")


@pytest.mark.parametrize("text", ["Did 0 searches", "API Error: 200 fine", "API Error: 4031"])
def test_other_search_errors_reach_the_model(text: str) -> None:
    assert search.refused(_search_error(text)) is None
    assert search.refused(sdk.UserMessage(content="API Error: 403 x")) is None


def _searched_answer_with_its_call() -> list[sdk.Message]:
    """As the CLI sends it: the streamed call, then the whole message holding it, then its result."""
    messages = _searched_answer()
    call = sdk.AssistantMessage(
        content=[sdk.ToolUseBlock(id="toolu_s", name="WebSearch", input={"query": "rain today"})],
        model="claude-mock",
        message_id="msg_1",
    )
    at = next(i for i, m in enumerate(messages) if isinstance(m, sdk.UserMessage))
    return [*messages[:at], call, *messages[at:]]


SEARCH_CALL = {
    "id": "ws_toolu_s",
    "type": "web_search_call",
    "status": "completed",
    "action": {
        "type": "search",
        "query": "rain today",
        "queries": ["rain today"],
        "sources": [{"type": "url", "url": "https://example.com/rain"}],
    },
}


def test_each_search_is_published_as_a_web_search_call_before_the_text_it_fed() -> None:
    """For /v1/responses (issue 23): the item is handed over as soon as the search ran, so a
    stream can send it before the answer's text; its query is the one the model asked for."""
    seen: list[tuple[tuple[dict[str, Any], ...], str]] = []
    text: list[str] = []
    translator = StreamTranslator("sonnet", search=True, publish=lambda items: seen.append((items, "".join(text))))
    for message in _searched_answer_with_its_call():
        for chunk in translator.feed(message):
            text.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    translator.finish()
    # first an empty list (a retried request starts again), then the search, before the answer's text
    assert seen == [((), ""), ((SEARCH_CALL,), "Searching. ")]


def test_a_search_that_failed_is_a_failed_web_search_call() -> None:
    seen: list[tuple[dict[str, Any], ...]] = []
    translator = StreamTranslator("sonnet", search=True, publish=seen.append)
    call = sdk.AssistantMessage(
        content=[sdk.ToolUseBlock(id="toolu_s", name="WebSearch", input={"query": "q"})], model="m"
    )
    translator.feed(call)
    translator.feed(_search_error("Error: Cannot specify both allowed_domains and blocked_domains"))
    [item] = seen[-1]
    assert (item["id"], item["status"], item["action"]["query"]) == ("ws_toolu_s", "failed", "q")
    assert item["action"]["sources"] == []


def test_without_a_publisher_or_without_search_nothing_is_published() -> None:
    seen: list[object] = []
    for message in _searched_answer_with_its_call():
        StreamTranslator("sonnet", publish=seen.append).feed(message)
    assert seen == []
    chunks = _run(StreamTranslator("sonnet", search=True), _searched_answer_with_its_call())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("Searching.")


def test_published_items_replace_a_retried_attempts_and_stay_bounded() -> None:
    published = search.Published(limit=2)
    published.put("a", ({"id": "ws_1"},))
    published.put("a", ())  # the request's retry starts over
    assert published.get("a") == ()
    published.put("b", ({"id": "ws_2"},))
    published.put("c", ({"id": "ws_3"},))
    assert published.get("a") == ()  # the oldest, never taken, went
    assert published.pop("b") == ({"id": "ws_2"},)
    assert published.get("b") == ()
    assert published.get("c") == ({"id": "ws_3"},)


# -- /v1/messages: the API's own search blocks (issue 29) ---------------------------------------


API_USE = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rain"}}
API_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [{"type": "web_search_result", "url": "https://example.com/rain", "encrypted_content": "e"}],
}
API_TEXT = {"type": "text", "text": "It rains.", "citations": [{"type": "web_search_result_location"}]}
OTHER_USE = {**API_USE, "id": "srvtoolu_2"}
OTHER_RESULT = {**API_RESULT, "tool_use_id": "srvtoolu_2"}


class FakeKept:
    """What the search forwarder kept for a process (``runtime.forwarder.Route``)."""

    def __init__(self, *answers: list[dict[str, Any]], unread: tuple[str, ...] = ()) -> None:
        self.answers = list(answers)
        self.unread = list(unread)


def _result_message(ids: list[str], error: bool = False) -> sdk.UserMessage:
    results: list[Any] = [{"tool_use_id": i, "content": []} for i in ids] + ["A summary."]
    block = sdk.ToolResultBlock(tool_use_id="toolu_s", content="Web search results ...", is_error=error)
    return sdk.UserMessage(content=[block], tool_use_result={"query": "rain", "results": results})


def test_search_blocks_are_the_apis_own_taken_by_the_ids_the_result_names() -> None:
    kept = FakeKept([OTHER_USE, OTHER_RESULT], [API_USE, API_RESULT, API_TEXT])
    blocks = search.SearchBlocks()
    assert blocks.answered(_result_message(["srvtoolu_1"]), kept) is None
    assert blocks.blocks == [API_USE, API_RESULT]  # the text (the search model's summary) is not the answer
    assert blocks.answered(_result_message(["srvtoolu_2"]), kept) is None
    assert blocks.blocks == [API_USE, API_RESULT, OTHER_USE, OTHER_RESULT]


def test_a_result_naming_no_id_takes_the_oldest_answer_not_taken() -> None:
    kept = FakeKept([API_USE, API_RESULT], [OTHER_USE, OTHER_RESULT])
    blocks = search.SearchBlocks()
    assert blocks.answered(_result_message([]), kept) is None
    assert blocks.answered(_result_message([]), kept) is None
    assert blocks.blocks == [API_USE, API_RESULT, OTHER_USE, OTHER_RESULT]
    failure = blocks.answered(_result_message([]), kept)
    assert failure is not None
    assert failure.message.startswith("web search: the API's answer to the search ('rain') is not available")


@pytest.mark.parametrize(
    ("kept", "why"),
    [
        (None, "the proxy's search forwarder is not running"),
        (FakeKept(), "it did not pass through the proxy's search forwarder"),
        (FakeKept([OTHER_USE, OTHER_RESULT]), "it did not pass through the proxy's search forwarder"),
        (
            FakeKept(unread=("the stream ended before message_stop",)),
            "the proxy's search forwarder could not read it (the stream ended before message_stop)",
        ),
    ],
)
def test_a_search_whose_answer_was_not_kept_is_a_502_saying_why(kept: FakeKept | None, why: str) -> None:
    failure = search.SearchBlocks().answered(_result_message(["srvtoolu_1"]), kept)
    assert failure == Failure(
        status=502,
        message=f"web search: the API's answer to the search (srvtoolu_1) is not available: {why};"
        " its server_tool_use and web_search_tool_result blocks cannot be given",
    )


def test_a_failed_search_or_another_tool_result_needs_no_blocks() -> None:
    blocks = search.SearchBlocks()
    assert blocks.answered(_result_message(["srvtoolu_1"], error=True), None) is None
    assert blocks.answered(sdk.UserMessage(content="tool result"), None) is None
    assert blocks.blocks == []


def test_the_translator_publishes_each_searchs_blocks_before_the_text_it_fed() -> None:
    seen: list[tuple[tuple[dict[str, Any], ...], str]] = []
    text: list[str] = []
    kept = FakeKept([API_USE, API_RESULT, API_TEXT])
    translator = StreamTranslator(
        "sonnet", search=True, publish_blocks=lambda blocks: seen.append((blocks, "".join(text))), kept=lambda: kept
    )
    for message in _searched_answer():
        for chunk in translator.feed(message):
            text.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    translator.finish()
    assert seen == [((), ""), ((API_USE, API_RESULT), "Searching. ")]


def test_the_translator_fails_when_a_searchs_blocks_are_not_available() -> None:
    """Only a request that wants the blocks (/v1/messages) fails; chat and /v1/responses do not."""
    wanting = StreamTranslator("sonnet", search=True, publish_blocks=lambda blocks: None, kept=lambda: None)
    with pytest.raises(Failed) as raised:
        _run(wanting, _searched_answer())
    assert raised.value.failure.status == 502
    assert "the proxy's search forwarder is not running" in raised.value.failure.message
    chunks = _run(StreamTranslator("sonnet", search=True, kept=lambda: None), _searched_answer())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("Searching.")
