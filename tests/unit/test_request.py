"""request.from_litellm: what LiteLLM hands the provider -> one ChatRequest."""

from __future__ import annotations

import logging

import httpx
import pytest

from litellm_claude_code import request as request_module
from litellm_claude_code.request import from_litellm
from litellm_claude_code.runtime.keys import poolable
from litellm_claude_code.runtime.options import plan
from litellm_claude_code.translate import search
from litellm_claude_code.translate.stream import translator_for


def test_what_claude_code_cannot_carry_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(request_module, "_reported", set())
    messages = [{"role": "user", "content": "hi"}]
    options = {"search_context_size": "high", "user_location": {"type": "approximate", "approximate": {"city": "Rome"}}}
    with caplog.at_level(logging.WARNING, logger="litellm_claude_code"):
        for _ in range(3):
            from_litellm("sonnet", messages, {"optional_params": {"web_search_options": options}}, environ={})
        from_litellm("sonnet", messages, {"optional_params": {"web_search_options": {}}}, environ={})
        from_litellm("sonnet", messages, {"optional_params": {"temperature": 0.5}}, environ={})
    assert [r.getMessage() for r in caplog.records] == [
        search.UNCARRIED["search_context_size"],
        search.UNCARRIED["user_location"],
    ]


def test_a_searched_request_never_shares_a_process() -> None:
    messages = [{"role": "user", "content": "hi"}]
    plain = from_litellm("sonnet", messages, {"optional_params": {}}, environ={})
    searched = from_litellm("sonnet", messages, {"optional_params": {"web_search_options": {}}}, environ={})
    assert searched.controls.search is not None
    assert plain.controls.search is None
    assert poolable(plain)
    assert not poolable(searched)
    assert plan(searched, "/tmp").search == searched.controls.search


@pytest.mark.parametrize(
    ("timeout", "seconds"), [(None, 600.0), (3, 3.0), (0, 600.0), (True, 600.0), (httpx.Timeout(7.0), 7.0)]
)
def test_the_request_timeout_or_the_deployment_default(timeout: object, seconds: float) -> None:
    request = from_litellm("sonnet", [{"role": "user", "content": "hi"}], {"timeout": timeout}, environ={})
    assert request.timeout == seconds


def test_a_responses_search_key_has_the_translator_publish_its_searches_there() -> None:
    """Issue 23: the proxy's hook keys a /v1/responses request with web search; its searches go there."""
    messages = [{"role": "user", "content": "hi"}]
    litellm_params = {"metadata": {search.WEB_SEARCH_CALLS_METADATA_KEY: "key-1"}}
    kwargs = {"optional_params": {"web_search_options": {}}, "litellm_params": litellm_params}
    searched = from_litellm("sonnet", messages, kwargs, environ={})
    assert searched.search_calls_key == "key-1"
    search.PUBLISHED.put("key-1", ({"id": "ws_old"},))
    translator_for(searched.model, searched.controls, searched.search_calls_key)
    assert search.PUBLISHED.pop("key-1") == ()  # a fresh attempt publishes, starting with no searches
    plain = from_litellm("sonnet", messages, {"optional_params": {}}, environ={})
    assert plain.search_calls_key is None
