"""Web search end to end (issue 23): a request that asks for search gets Claude's own.

The model (the mock's scripted replies) calls Claude Code's WebSearch tool;
the CLI runs the search as a request of its own with the ``web_search`` server
tool, which the mock answers as the API does (``MockAnthropic.search``); the
model's answer links the pages found, and the client gets them as citations
with the search counted in its usage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import anthropic
import claude_agent_sdk as sdk
import httpx
import litellm
import openai
import pytest

from litellm_claude_code.answer import answer
from litellm_claude_code.errors import Failed
from litellm_claude_code.quota import Quotas
from litellm_claude_code.request import from_litellm
from litellm_claude_code.runtime.forwarder import Forwarder, Route
from litellm_claude_code.runtime.options import QueryPlan, build_options
from litellm_claude_code.runtime.runtime import Runtime
from litellm_claude_code.settings import DeploymentSettings
from litellm_claude_code.translate.search import WEB_SEARCH_BLOCKS_METADATA_KEY, SearchSpec
from tests.anthropic_mock import CLAUDE_CODE_TOOLS, MockAnthropic, Reply, Search, SearchResult

from .harness import Proxy, claude_env, post_chat

pytestmark = pytest.mark.e2e

RAIN = "https://example.com/rain"
ANSWER = f"It rains 120 days a year, says [Rain in Example City]({RAIN})."
QUESTION = [{"role": "user", "content": "How often does it rain in Example City?"}]


def _searching(query: str = "rain in Example City") -> list[Reply]:
    """The model's two turns: a WebSearch call, then the answer citing a page found."""
    call = {"id": "toolu_search1", "name": "WebSearch", "input": {"query": query}}
    return [Reply(chunks=[], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=[ANSWER])]


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [t["name"] for t in body.get("tools") or []]


def _searched_upstream(mock: MockAnthropic, query: str = "rain in Example City") -> dict[str, Any]:
    """The one search request Claude Code made, checked as the API would get it."""
    assert len(mock.searches) == 1
    body = mock.searches[0].body
    [tool] = body["tools"]
    assert tool["type"] == "web_search_20250305"
    assert query in json.dumps(body["messages"])
    # the model was offered WebSearch and none of Claude Code's other tools (no WebFetch)
    for request in mock.requests:
        assert [n for n in _tool_names(request.body) if n in CLAUDE_CODE_TOOLS] == [
            "WebSearch",
        ]
    return dict(tool)


def _annotation(content: str) -> dict[str, Any]:
    start = content.index("[Rain in Example City]")
    return {"url": RAIN, "title": "Rain in Example City", "start_index": start, "end_index": len(content) - 1}


def test_chat_with_web_search_options(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(*_searching())
    response = post_chat(proxy, "sonnet", QUESTION, web_search_options={"search_context_size": "medium"})
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["content"] == ANSWER
    assert not message.get("tool_calls")
    assert [a["url_citation"] for a in message["annotations"]] == [_annotation(ANSWER)]
    usage = response.json()["usage"]
    assert usage["server_tool_use"] == {"web_search_requests": 1}
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    _searched_upstream(mock)
    # the model saw the pages found, as Claude Code hands them over
    assert RAIN in json.dumps(mock.requests[-1].body["messages"])


def test_chat_streamed_with_domain_filters(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(*_searching())
    stream = client.chat.completions.create(
        model="sonnet",
        messages=QUESTION,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"web_search_options": {"blocked_domains": ["news.example.org"]}},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == ANSWER
    annotations = [
        a for c in chunks if c.choices for a in (c.choices[0].delta.model_extra or {}).get("annotations") or []
    ]
    assert [a["url_citation"] for a in annotations] == [_annotation(ANSWER)]
    usage = next(c.usage for c in chunks if c.usage is not None)
    assert (usage.model_extra or {}).get("server_tool_use") == {"web_search_requests": 1}
    assert _searched_upstream(mock)["blocked_domains"] == ["news.example.org"]


def test_a_request_without_search_never_offers_it(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(*_searching(), Reply(chunks=["Plain."]))
    assert post_chat(proxy, "sonnet", QUESTION, web_search_options={}).status_code == 200
    plain = post_chat(
        proxy, "sonnet", [*QUESTION, {"role": "assistant", "content": ANSWER}, {"role": "user", "content": "Thanks"}]
    )
    assert plain.status_code == 200, plain.text
    assert plain.json()["choices"][0]["message"]["content"] == "Plain."
    assert (
        "annotations" not in plain.json()["choices"][0]["message"]
        or not plain.json()["choices"][0]["message"]["annotations"]
    )
    assert _tool_names(mock.requests[-1].body) == []
    assert len(mock.searches) == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"user_location": {"type": "approximate", "approximate": {"city": 7}}}, "user_location.approximate.city"),
        ({"max_results": 3}, "max_results"),
    ],
)
def test_malformed_web_search_options_are_a_400(proxy: Proxy, mock: MockAnthropic, options: object, field: str) -> None:
    response = post_chat(proxy, "sonnet", QUESTION, web_search_options=options)
    assert response.status_code == 400, response.text
    assert field in response.text
    assert mock.requests == []


def _responses_request(**extra: Any) -> dict[str, Any]:
    return {"model": "sonnet", "input": QUESTION[0]["content"], "tools": [{"type": "web_search"}], **extra}


def _answered_with_a_search(output: list[Any], sources: list[str] | None = None) -> None:
    """As OpenAI's API answers: the search's web_search_call item, then the message citing its page."""
    assert [o.type for o in output] == ["web_search_call", "message"]
    search, message = output
    assert search.id == "ws_toolu_search1"
    assert search.status == "completed"
    assert (search.action.type, search.action.query) == ("search", "rain in Example City")
    # the pages found only when the request's include asks for them
    assert (None if search.action.sources is None else [s.url for s in search.action.sources]) == sources
    [text] = message.content
    assert text.type == "output_text"
    assert text.text == ANSWER
    assert [(a.type, a.url, a.start_index, a.end_index) for a in text.annotations] == [
        ("url_citation", RAIN, ANSWER.index("[Rain"), len(ANSWER) - 1)
    ]


def test_responses_with_the_web_search_tool(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(*_searching())
    response = client.responses.with_raw_response.create(**_responses_request())
    # on the wire, as OpenAI's API sends it: no "sources" field unless asked for
    assert response.http_response.json()["output"][0] == {
        "id": "ws_toolu_search1",
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "search", "query": "rain in Example City", "queries": ["rain in Example City"]},
    }
    _answered_with_a_search(response.parse().output)
    _searched_upstream(mock)


def test_responses_include_the_pages_a_search_found(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(*_searching())
    response = client.responses.create(**_responses_request(include=["web_search_call.action.sources"]))
    _answered_with_a_search(response.output, sources=[RAIN, "https://news.example.org/sun"])


def test_responses_streamed_send_the_search_before_the_message(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(*_searching())
    events = list(client.responses.create(**_responses_request(), stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [(e.type, getattr(e, "output_index", None)) for e in events]
    # OpenAI's order: the search's item and its three steps, done, then the message's events
    assert kinds[:9] == [
        ("response.created", None),
        ("response.in_progress", None),
        ("response.output_item.added", 0),
        ("response.web_search_call.in_progress", 0),
        ("response.web_search_call.searching", 0),
        ("response.web_search_call.completed", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 1),
        ("response.content_part.added", 1),
    ]
    assert {index for _, index in kinds[7:-1]} == {1}
    assert kinds[-1] == ("response.completed", None)
    added, done = events[2], events[6]
    assert (added.item.type, added.item.status, added.item.id) == ("web_search_call", "in_progress", "ws_toolu_search1")
    assert [getattr(e, "item_id", None) for e in events[3:6]] == ["ws_toolu_search1"] * 3
    assert done.item.status == "completed"
    assert done.item.action.query == "rain in Example City"
    completed = events[-1].response
    _answered_with_a_search(completed.output)
    assert [o.id for o in completed.output] == ["ws_toolu_search1", events[7].item.id]
    # the text's citation on its content_part.done too (LiteLLM's bridge alone sends it as {})
    [part_done] = [e for e in events if e.type == "response.content_part.done"]
    assert [(a.type, a.url) for a in part_done.part.annotations] == [("url_citation", RAIN)]


def test_responses_streamed_by_the_openai_client(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(*_searching())
    with client.responses.stream(**_responses_request()) as events:
        response = events.get_final_response()
    _answered_with_a_search(response.output)
    assert not [o for o in response.output if o.type == "function_call"]
    _searched_upstream(mock)


@pytest.mark.parametrize("with_id", [True, False])
def test_a_replayed_search_is_not_an_assistant_message(
    client: openai.OpenAI, mock: MockAnthropic, with_id: bool
) -> None:
    """A client sending its earlier output back (Codex does, without the ids) sends the search item too:
    it is dropped, not made into an assistant message the model never wrote."""
    search: dict[str, Any] = {
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "search", "query": "rain in Example City"},
    }
    if with_id:
        search["id"] = "ws_toolu_search1"
    earlier = [
        {"role": "user", "content": QUESTION[0]["content"]},
        search,
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ANSWER}]},
        {"role": "user", "content": "And in winter?"},
    ]
    mock.script(Reply(chunks=["More in winter."]))
    response = client.responses.create(model="sonnet", input=earlier)
    assert response.output_text == "More in winter."
    [request] = mock.requests
    sent = json.dumps(request.body["messages"])
    assert "Hosted web search" not in sent
    assert [t["role"] for t in request.turns()] == ["user", "assistant", "user"]
    assert request.turns()[1]["content"] in (ANSWER, [{"type": "text", "text": ANSWER}])


def _messages_request(**extra: Any) -> dict[str, Any]:
    return {
        "model": "sonnet",
        "max_tokens": 500,
        "messages": QUESTION,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        **extra,
    }


def _apis_search_blocks(mock: MockAnthropic) -> list[dict[str, Any]]:
    """The server_tool_use and web_search_tool_result blocks the mock's API gave Claude Code's search request."""
    [search] = mock.searches
    assert search.answered is not None
    blocks = [b for b in search.answered if b["type"] in ("server_tool_use", "web_search_tool_result")]
    assert [b["type"] for b in blocks] == ["server_tool_use", "web_search_tool_result"]
    return blocks


@pytest.mark.parametrize("gzip", [False, True])
def test_messages_with_the_web_search_server_tool(proxy: Proxy, mock: MockAnthropic, gzip: bool) -> None:
    """The answer holds the API's own search blocks, exactly as the API gave them to Claude Code's
    search request (each result's encrypted_content too), then the answer's text; a gzipped answer too."""
    mock.search = Search(gzip=gzip)
    mock.script(*_searching())
    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.master_key, max_retries=0, timeout=60)
    raw = claude.messages.with_raw_response.create(**_messages_request())
    body = raw.http_response.json()
    assert body["content"] == [*_apis_search_blocks(mock), {"type": "text", "text": ANSWER}]
    assert body["content"][1]["content"][0]["encrypted_content"] == "enc-0"
    assert body["usage"]["server_tool_use"] == {"web_search_requests": 1}
    # the anthropic client reads them as its own types
    message = raw.parse()
    assert [b.type for b in message.content] == ["server_tool_use", "web_search_tool_result", "text"]
    _searched_upstream(mock)
    assert "gzip" in mock.searches[0].headers["accept-encoding"]


class Unstartable(Forwarder):
    """A search forwarder that cannot start (its port cannot be bound, say)."""

    async def route(self, upstream: str) -> Route:
        raise OSError(98, "Address already in use")


def test_messages_when_the_search_forwarder_failed(mock: MockAnthropic, tmp_path: Path) -> None:
    """No search forwarder, so no API answer to take the blocks from: the model's search runs (the
    process talks to its API directly) and the answer is an error the client reads, not one made up."""
    mock.script(*_searching())
    litellm_params = {
        "model": "claude-code/sonnet",
        "model_info": {"claude_code": {}},
        "metadata": {WEB_SEARCH_BLOCKS_METADATA_KEY: "blocks-key"},
    }
    kwargs = {"optional_params": {"web_search_options": {}}, "litellm_params": litellm_params}
    request = from_litellm("sonnet", QUESTION, kwargs, claude_env(tmp_path, mock.url))

    async def run() -> None:
        runtime = Runtime(spares=False, forwarder=Unstartable())
        try:
            async with runtime.turn(request) as turn:
                async for _ in answer(request, turn, Quotas()):
                    pass
        finally:
            await runtime.close()

    with pytest.raises(Failed) as raised:
        asyncio.run(run())
    assert raised.value.failure.status == 502
    assert raised.value.failure.message == (
        "web search: the API's answer to the search ("
        + mock_search_id(mock)
        + ") is not available: the proxy's search forwarder is not running;"
        " its server_tool_use and web_search_tool_result blocks cannot be given"
    )
    assert len(mock.searches) == 1  # the search reached the API, directly
    assert len(mock.requests) == 1  # and the model did not answer without its blocks


def mock_search_id(mock: MockAnthropic) -> str:
    [search] = mock.searches
    assert search.answered is not None
    return str(search.answered[0]["id"])


def test_messages_streamed_with_the_web_search_server_tool(proxy: Proxy, mock: MockAnthropic) -> None:
    """Streamed as the API streams them: the search's blocks before the text, each its own index."""
    mock.script(*_searching())
    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.master_key, max_retries=0, timeout=60)
    with claude.messages.stream(**_messages_request()) as stream:
        events = list(stream)
        message = stream.get_final_message()
    starts = [(e.index, e.content_block.type) for e in events if e.type == "content_block_start"]
    assert starts == [(0, "server_tool_use"), (1, "web_search_tool_result"), (2, "text")]
    use, result = _apis_search_blocks(mock)
    assert [b.model_dump(mode="json", exclude_unset=True) for b in message.content[:2]] == [use, result]
    assert message.content[2].type == "text"
    assert message.content[2].text == ANSWER
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1
    _searched_upstream(mock)


def test_messages_history_with_the_apis_search_blocks(proxy: Proxy, mock: MockAnthropic) -> None:
    """A conversation begun on Anthropic's API (or with another gateway) holds its search blocks:
    server_tool_use, web_search_tool_result with encrypted_content, text with citations. Sent back
    here they are not an error; the model gets its own text (LiteLLM's adapter keeps the text blocks,
    joined, and drops the search blocks, which Claude Code could not replay)."""
    cited = {
        "type": "web_search_result_location",
        "url": RAIN,
        "title": "Rain in Example City",
        "encrypted_index": "EncIdx==",
        "cited_text": "It rains 120 days a year in Example City.",
    }
    earlier = [
        {"type": "text", "text": "Let me search."},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rain"}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": [
                {
                    "type": "web_search_result",
                    "url": RAIN,
                    "title": "Rain in Example City",
                    "encrypted_content": "EncContent==",
                    "page_age": "2 days ago",
                }
            ],
        },
        {"type": "text", "text": "It rains 120 days a year.", "citations": [cited]},
    ]
    mock.script(Reply(chunks=["More in winter."]))
    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.master_key, max_retries=0, timeout=60)
    message = claude.messages.create(
        model="sonnet",
        max_tokens=100,
        messages=[
            *QUESTION,
            {"role": "assistant", "content": earlier},
            {"role": "user", "content": "And in winter?"},
        ],
    )
    assert [b.text for b in message.content if b.type == "text"] == ["More in winter."]
    [request] = mock.requests
    turns = request.turns()
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert json.dumps(turns[1]["content"]).count("Let me search.It rains 120 days a year.") == 1
    assert "EncContent" not in json.dumps(request.body)
    assert _tool_names(request.body) == []  # no search asked for this turn, none offered


def test_claude_code_hands_over_only_titles_and_urls_of_a_search(mock: MockAnthropic, tmp_path: Path) -> None:
    """Why /v1/messages takes the search blocks from the search forwarder, not from Claude Code
    (docs/web-search.md): the API's answer to Claude Code's search request carries them, with each
    result's encrypted_content and each citation's encrypted_index and cited_text, and Claude Code
    (the pinned CLI) keeps none of those in anything it sends out: the tool result, its
    ``tool_use_result``, the stream. Should a CLI hand them over, this fails, and the forwarder may go."""
    mock.script(*_searching())
    plan = QueryPlan("sonnet", "Answer.", str(tmp_path), claude_env(tmp_path, mock.url), search=SearchSpec())

    async def everything() -> list[sdk.Message]:
        return [m async for m in sdk.query(prompt="Rain?", options=build_options(plan, DeploymentSettings()))]

    messages = asyncio.run(everything())
    sent = json.dumps([dataclasses.asdict(m) for m in messages], default=str)
    # the mock's answer to that request has them (asked again, whole), Claude Code's output has none of them
    answered = httpx.post(f"{mock.url}/v1/messages", json={**mock.searches[0].body, "stream": False}, timeout=10).text
    for field in ("encrypted_content", "encrypted_index", "cited_text", "web_search_result_location"):
        assert field in answered
        assert field not in sent
    [found] = [m.tool_use_result for m in messages if isinstance(m, sdk.UserMessage) and m.tool_use_result]
    pages = [item for item in found["results"] if isinstance(item, dict)]
    assert [page["content"] for page in pages] == [
        [{"title": r.title, "url": r.url} for r in Search().results],
    ]
    assert pages[0]["tool_use_id"].startswith("srvtoolu_")


def test_a_search_the_account_may_not_use_is_its_error(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.search = Search(status=403, error_type="permission_error", error_message="web search is not enabled")
    mock.script(*_searching(), Reply(chunks=["I could not search."]))
    # opus: the config's router falls back from sonnet to haiku on such an error
    response = post_chat(proxy, "opus", QUESTION, web_search_options={})
    assert response.status_code == 403, response.text
    assert "web search is not enabled" in response.text
    assert len(mock.searches) == 1
    assert len(mock.requests) == 1  # the model did not answer without the search


def test_the_mock_filters_results_by_domain(mock: MockAnthropic) -> None:
    """The mock's own contract, so the tests above can trust what it answers."""
    mock.search = Search(results=[SearchResult("https://a.org/x", "A", "a"), SearchResult("https://b.org/y", "B", "b")])
    tool = {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["b.org"]}
    body = {"model": "m", "max_tokens": 10, "tools": [tool], "messages": [{"role": "user", "content": "q"}]}
    answer = httpx.post(f"{mock.url}/v1/messages", json=body, timeout=10).json()
    kinds = [b["type"] for b in answer["content"]]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text"]
    assert [r["url"] for r in answer["content"][1]["content"]] == ["https://b.org/y"]
    assert answer["content"][2]["citations"][0]["type"] == "web_search_result_location"
    assert answer["usage"]["server_tool_use"] == {"web_search_requests": 1}


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_search_beside_the_clients_function_which_comes_back_to_the_client(proxy: Proxy, mock: MockAnthropic) -> None:
    search = {"id": "toolu_search1", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    weather = {"id": "toolu_w1", "name": "get_weather", "input": {"city": "Example City"}}
    mock.script(
        Reply(chunks=[], tool_uses=[search], stop_reason="tool_use"),
        Reply(chunks=["Now the live weather."], tool_uses=[weather], stop_reason="tool_use"),
    )
    response = post_chat(proxy, "sonnet", QUESTION, tools=[WEATHER], web_search_options={})
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    calls = [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in choice["message"]["tool_calls"]
    ]
    assert calls == [("toolu_w1", "get_weather", {"city": "Example City"})]
    assert len(mock.searches) == 1
    assert len(mock.requests) == 2
    offered = mock.requests[0].offered()
    assert set(offered) == {"get_weather"}


def _priced_as_anthropic(body: dict[str, Any], searches: int) -> float:
    """What LiteLLM prices the same answer at had Anthropic's API given it, with ``searches`` searches."""
    usage = {**body["usage"], "server_tool_use": {"web_search_requests": searches} if searches else None}
    response = litellm.ModelResponse(**{**body, "usage": usage})
    return float(litellm.completion_cost(completion_response=response, custom_llm_provider="anthropic"))


def test_searches_are_priced_at_anthropics_list_price(proxy: Proxy, mock: MockAnthropic) -> None:
    """Issue 23: the cost is the answer's tokens at the answering model plus $10 per 1,000 searches."""
    mock.script(*_searching())
    response = post_chat(proxy, "sonnet", QUESTION, web_search_options={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["usage"]["server_tool_use"] == {"web_search_requests": 1}
    cost = float(response.headers["x-litellm-response-cost"])
    assert cost == pytest.approx(_priced_as_anthropic(body, 1))
    assert cost - _priced_as_anthropic(body, 0) == pytest.approx(0.01)
    assert body["usage"]["cost"] == pytest.approx(cost)
