"""The proxy hooks: what they refuse, what they add to a request, a stream's model name, the response
headers, and the deployments they read from the running proxy's router.

Routing among a pool's accounts is tested in ``test_routing``, key shares in ``test_shares``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException
from litellm.constants import RETURN_RAW_MODEL_NAME_METADATA_KEY
from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices, Usage

from litellm_claude_code.proxy import messages_search
from litellm_claude_code.proxy.affinity import Affinity
from litellm_claude_code.proxy.hooks import ProxyHooks, router_deployments
from litellm_claude_code.quota import Quotas
from litellm_claude_code.translate.prompt import TOOL_ERRORS_METADATA_KEY
from litellm_claude_code.translate.search import PUBLISHED_BLOCKS

from ..test_quota import info
from .test_pool import NOW
from .test_routing import FIRST, deployment, hooks_with, rate_limit, route

KEY = SimpleNamespace(token="key-hash", metadata={}, team_metadata={})  # a key without a window share


def pre_call(hooks: ProxyHooks, data: dict[str, Any], call_type: str = "acompletion") -> dict[str, Any]:
    return asyncio.run(hooks.async_pre_call_hook(KEY, None, data, call_type))


def headers_of(hooks: ProxyHooks, call_id: str, deployment_id: object) -> dict[str, str] | None:
    data = {"litellm_call_id": call_id}
    call_info = {"model_id": deployment_id}
    return asyncio.run(hooks.async_post_call_response_headers_hook(data, None, None, litellm_call_info=call_info))


# -- async_pre_call_hook ---------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "named"),
    [
        ([], "messages must be a non-empty list"),
        ("hello", "messages must be a non-empty list"),
        ([{"role": "user", "content": 5}], "messages[0].content must be a string or a list of parts"),
        ([{"role": "user", "content": "hi"}, {"role": "robot", "content": "hi"}], "messages[1].role 'robot'"),
        (["hi"], "messages[0] must be an object"),
    ],
)
def test_malformed_chat_messages_are_a_400_naming_the_problem(messages: object, named: str) -> None:
    with pytest.raises(HTTPException) as refused:
        pre_call(ProxyHooks(), {"model": "sonnet", "messages": messages})
    assert refused.value.status_code == 400
    assert isinstance(refused.value.detail, dict)
    assert refused.value.detail["error"].startswith("invalid request: ")
    assert named in refused.value.detail["error"]


@pytest.mark.parametrize("response_format", [False, 1, "json_object", ["json_object"]])
def test_a_response_format_that_is_not_an_object_is_a_400_naming_it(response_format: object) -> None:
    """Found by test_fuzz: LiteLLM's own conversion raised a TypeError on ``false``, a 500."""
    data = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "response_format": response_format}
    with pytest.raises(HTTPException) as refused:
        pre_call(ProxyHooks(), data)
    assert refused.value.status_code == 400
    assert isinstance(refused.value.detail, dict)
    assert refused.value.detail["error"].startswith("invalid request: response_format must be an object")


def test_a_response_format_object_or_none_is_left_to_the_provider() -> None:
    for response_format in (None, {"type": "json_object"}):
        data = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "response_format": response_format}
        assert pre_call(ProxyHooks(), data)["response_format"] == response_format


@pytest.mark.parametrize(
    ("call_type", "offered"), [("anthropic_messages", ["Bash"]), ("acompletion", ["Bash", "Later"])]
)
def test_deferred_tools_of_a_messages_request_are_given_as_the_model_sees_them(
    call_type: str, offered: list[str]
) -> None:
    later = {"name": "Later", "input_schema": {"type": "object"}, "defer_loading": True}
    data = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "Bash"}, later]}
    assert [t["name"] for t in pre_call(ProxyHooks(), data, call_type)["tools"]] == offered


def test_a_request_without_chat_messages_is_not_judged_by_their_shape() -> None:
    """Embeddings, /v1/responses and the like carry no ``messages``: the hook lets them through."""
    data = pre_call(ProxyHooks(), {"model": "sonnet", "input": "hi"}, "aresponses")
    assert data["input"] == "hi"


@pytest.mark.parametrize("metadata", [None, "not a mapping", {"user": "kept"}])
def test_every_request_asks_litellm_for_the_model_that_answered(metadata: object) -> None:
    """The proxy keeps a response's real model name (issue 14) only when the request's metadata says so."""
    data: dict[str, Any] = {"model": "sonnet", "messages": FIRST}
    if metadata is not None:
        data["metadata"] = metadata
    out = pre_call(ProxyHooks(), data)
    assert out["metadata"][RETURN_RAW_MODEL_NAME_METADATA_KEY] is True
    if isinstance(metadata, dict):
        assert out["metadata"]["user"] == "kept"


def test_tool_results_a_messages_body_marks_failed_reach_the_provider_beside_the_callers_metadata() -> None:
    """/v1/messages: LiteLLM's adapter loses ``is_error``, so the hook passes the ids on in litellm_metadata."""
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "ok-call", "content": "fine"},
                {"type": "tool_result", "tool_use_id": "bad-call", "content": "boom", "is_error": True},
            ],
        },
    ]
    data = pre_call(ProxyHooks(), {"model": "sonnet", "messages": messages, "litellm_metadata": {"tags": ["x"]}})
    assert data["litellm_metadata"] == {"tags": ["x"], TOOL_ERRORS_METADATA_KEY: ["bad-call"]}
    plain = pre_call(ProxyHooks(), {"model": "sonnet", "messages": FIRST})
    assert "litellm_metadata" not in plain  # nothing failed: nothing added


def test_responses_tools_that_cannot_reach_claude_code_are_logged_once_per_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = ProxyHooks()
    tools = [{"type": "local_shell"}, {"type": "function", "name": "f"}, {"type": "file_search"}, "junk", {}]
    carried = [{"type": kind} for kind in ("custom", "namespace", "web_search", "web_search_preview")]
    with caplog.at_level(logging.WARNING, logger="litellm_claude_code.proxy.hooks"):
        pre_call(hooks, {"model": "sonnet", "tools": [*tools, *carried, {"type": "local_shell"}]}, "aresponses")
        pre_call(hooks, {"model": "sonnet", "tools": [{"type": "local_shell"}]}, "aresponses")  # reported already
        pre_call(hooks, {"model": "sonnet", "tools": [{"type": "mcp"}], "messages": FIRST}, "acompletion")
    reported = [r.getMessage() for r in caplog.records]
    assert reported == [
        "a /v1/responses tool of type 'local_shell' cannot reach Claude Code: it is left out",
        "a /v1/responses tool of type 'file_search' cannot reach Claude Code: it is left out",
    ]


# -- async_post_call_streaming_iterator_hook ----------------------------------------


def chunk(model: str, content: str | None = None, tool_call: bool = False, usage: bool = False) -> ModelResponseStream:
    if usage:
        return ModelResponseStream(model=model, choices=[], usage=Usage(prompt_tokens=3, completion_tokens=2))
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}] if tool_call else None
    return ModelResponseStream(model=model, choices=[StreamingChoices(delta=Delta(content=content, tool_calls=calls))])


def models_streamed(chunks: list[ModelResponseStream]) -> list[str]:
    async def source() -> AsyncIterator[ModelResponseStream]:
        for item in chunks:
            yield item

    async def consume() -> list[str]:
        stream = ProxyHooks().async_post_call_streaming_iterator_hook(KEY, source(), {})
        return [item.model async for item in stream]

    return asyncio.run(consume())


@pytest.mark.parametrize("first", [chunk("claude-sonnet-4-5", "Hel"), chunk("claude-sonnet-4-5", tool_call=True)])
def test_a_stream_names_the_model_that_answered_from_its_first_content_on(first: ModelResponseStream) -> None:
    """LiteLLM's own finish and usage chunks name the alias (``sonnet``); the hook makes them agree (issue 14)."""
    role_only = chunk("sonnet")  # before any content: nothing is known to answer yet
    answered = "claude-sonnet-4-5"
    streamed = models_streamed([role_only, first, chunk(answered, "lo"), chunk("sonnet"), chunk("", usage=True)])
    assert streamed == ["sonnet", answered, answered, answered, answered]


def test_a_stream_without_content_is_left_as_it_is() -> None:
    streamed = models_streamed([chunk("sonnet"), chunk("other"), chunk("sonnet", usage=True)])
    assert streamed == ["sonnet", "other", "sonnet"]


# -- async_post_call_response_headers_hook ---------------------------------------------


def test_no_quota_headers_without_quotas_a_deployment_or_a_report() -> None:
    assert headers_of(ProxyHooks(), "call", "a") is None  # the hooks of a proxy without Claude Code quotas
    hooks = hooks_with({"a": rate_limit("allowed", 0.3)})
    assert headers_of(hooks, "call", None) is None  # no deployment answered (a refused request)
    assert headers_of(hooks, "call", "b") is None  # b has not reported its quota yet


def test_quota_headers_name_the_account_that_served_and_its_routing_only_once() -> None:
    hooks = hooks_with({"a": rate_limit("allowed", 0.3)})
    assert route(hooks, [deployment("a")], FIRST, litellm_call_id="call-1") == ["a"]
    first = headers_of(hooks, "call-1", "a")
    assert first is not None
    assert (first["x-claude-code-account"], first["x-claude-code-routing"]) == ("a", "new")
    assert first["x-claude-code-account-standing"] == "room"
    assert first["x-ratelimit-unified-5h-utilization"] == "0.3"
    again = headers_of(hooks, "call-1", "a")  # the decision went with the first response
    assert again is not None
    assert again["x-ratelimit-unified-5h-utilization"] == "0.3"
    assert not [name for name in again if name.startswith("x-claude-code-")]


def test_routing_decisions_waiting_for_their_response_are_bounded() -> None:
    """A request that never reaches the headers hook (a failed call) leaves its decision behind: the
    oldest go once 10,000 wait, so the proxy's memory does not grow with failed calls."""
    hooks = hooks_with({"a": rate_limit("allowed", 0.3)})

    async def route_many() -> None:
        for index in range(10_001):
            kwargs = {"litellm_call_id": f"call-{index}"}
            await hooks.async_filter_deployments("sonnet", [deployment("a")], None, kwargs)

    asyncio.run(route_many())
    oldest, second, newest = (headers_of(hooks, f"call-{i}", "a") or {} for i in (0, 1, 10_000))
    assert "x-claude-code-account" not in oldest
    assert second["x-claude-code-account"] == "a"
    assert newest["x-claude-code-account"] == "a"


# -- async_filter_deployments, the edges test_routing leaves out ------------------------------


def test_a_pool_with_a_deployment_whose_settings_were_refused_at_start_is_left_to_the_router() -> None:
    """config_check refuses such settings at start-up; if one is offered all the same, it is not ours to route."""
    hooks = hooks_with({"a": rate_limit("allowed", 0.6), "b": rate_limit("allowed", 0.2)})
    offered = [deployment("a"), deployment("b", pool_size="many")]
    assert route(hooks, offered, FIRST) == ["a", "b"]
    assert hooks.routing.decisions == {}


def test_without_quotas_every_healthy_deployment_is_offered() -> None:
    hooks = ProxyHooks(None, Affinity(lambda: None))
    offered = [deployment("a"), deployment("b")]
    chosen = asyncio.run(hooks.async_filter_deployments("sonnet", offered, FIRST, {}))
    assert chosen == offered


# -- router_deployments and window_use ------------------------------------------------------


def test_the_deployments_of_a_model_are_read_from_the_running_proxys_router(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    class Router:
        def get_model_list(self, model_name: str) -> list[dict[str, Any]] | None:
            asked.append(model_name)
            return [deployment("a")] if model_name == "sonnet" else None

    proxy_server = ModuleType("litellm.proxy.proxy_server")
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", proxy_server)
    assert router_deployments("sonnet") == []  # the proxy has no router yet
    proxy_server.llm_router = Router()  # type: ignore[attr-defined]
    assert router_deployments("sonnet") == [deployment("a")]
    assert router_deployments("opus") == []  # the router knows no such model
    assert asked == ["sonnet", "opus"]
    monkeypatch.delitem(sys.modules, "litellm.proxy.proxy_server")
    assert router_deployments("sonnet") == []  # not inside the proxy at all


def test_window_use_names_each_key_by_its_alias_else_its_hash_over_the_configured_accounts() -> None:
    quotas = Quotas(clock=lambda: NOW)
    quotas.record("acct-a", "a", info("allowed"), model="sonnet")  # five_hour at 0.82 of the window
    quotas.record("acct-c", "c", info("allowed"), model="opus")  # no key has used opus
    configured = {"sonnet": [deployment("a"), deployment("b")], "opus": [deployment("c")]}
    hooks = ProxyHooks(quotas, Affinity(lambda: None), clock=lambda: NOW, deployments_of=lambda m: configured[m])
    for key, alias in (("0123456789abcdef-hash-of-key-one", ""), ("hash-of-key-two", "team-two")):
        metadata = {"user_api_key_hash": key, "user_api_key_alias": alias}
        logged = {"standard_logging_object": {"model_id": "a", "response_cost": 0.01, "metadata": metadata}}
        asyncio.run(hooks.async_log_success_event(logged, None, None, None))
    # One report: its 0.82 shared out in proportion (0.41 each) over the pool's two configured
    # accounts, b never heard from (each account has a window of its own): 0.205 each.
    use = sorted(hooks.window_use())
    assert [(name, model) for name, model, _ in use] == [("0123456789abcdef", "sonnet"), ("team-two", "sonnet")]
    assert [used for _, _, used in use] == pytest.approx([0.205, 0.205])


@pytest.mark.parametrize(("call_type", "keyed"), [("anthropic_messages", True), ("acompletion", False)])
def test_a_messages_request_offering_the_search_server_tool_gets_its_search_key(call_type: str, keyed: bool) -> None:
    """Where the provider publishes the API's search blocks for the hooks (``messages_search``)."""
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    data = pre_call(ProxyHooks(), {"model": "sonnet", "tools": tools}, call_type)
    assert (messages_search.key_of(data) is not None) is keyed


def test_a_whole_messages_answer_gets_its_searches_blocks() -> None:
    hooks = ProxyHooks()
    data = pre_call(hooks, {"model": "sonnet", "tools": [{"type": "web_search_20250305"}]}, "anthropic_messages")
    key = messages_search.key_of(data)
    assert key is not None
    use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    PUBLISHED_BLOCKS.put(key, (use,))
    response = {"type": "message", "content": [{"type": "text", "text": "Rain."}]}
    assert asyncio.run(hooks.async_post_call_success_hook(data, KEY, response)) == {
        "type": "message",
        "content": [use, {"type": "text", "text": "Rain."}],
    }
