"""Virtual keys, model limits, budgets and spend, end to end through the stock proxy on PostgreSQL.

The official ``openai`` client calls the real proxy, which runs the real SDK and CLI
against the mock Anthropic API; keys are made with the master key through the proxy's
own management API, and spend is read back from it (``/key/info``, ``/spend/logs``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import litellm
import openai
import pytest
import yaml
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionMessageParam

from tests.anthropic_mock import MockAnthropic, Reply
from tests.e2e.harness import CONFIG, FAKE_OAUTH_TOKEN, Proxy

from .conftest import generate_key, key_info, list_price, spend_logs, wait_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


def _client(proxy: Proxy, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0, timeout=60)


def _refused(client: openai.OpenAI, status: int, error_type: str) -> dict[str, Any]:
    """The error body of a sonnet request the proxy refuses with ``status`` and ``error_type``."""
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="sonnet", messages=USER)
    assert refused.value.status_code == status, refused.value.response.text
    error: dict[str, Any] = refused.value.response.json()["error"]
    assert error["type"] == error_type
    return error


def test_generated_key_calls_a_model(db_proxy: Proxy, mock: MockAnthropic) -> None:
    key = generate_key(db_proxy.url, db_proxy.master_key)
    assert key.startswith("sk-")
    assert key != db_proxy.master_key

    response = _client(db_proxy, key).chat.completions.create(model="sonnet", messages=USER)

    assert response.choices[0].message.content == "Hello from the mock."
    assert len(mock.requests) == 1
    with pytest.raises(openai.AuthenticationError):  # a key the database does not know
        _client(db_proxy, "sk-not-a-key-of-this-proxy").chat.completions.create(model="sonnet", messages=USER)


def test_key_limited_to_a_model_is_refused_another(db_proxy: Proxy, mock: MockAnthropic) -> None:
    key = generate_key(db_proxy.url, db_proxy.master_key, models=["haiku"])
    client = _client(db_proxy, key)

    # LiteLLM's answer for a model the key may not use: 403, type key_model_access_denied.
    error = _refused(client, 403, "key_model_access_denied")
    assert "'sonnet' is not available for this API key" in error["message"]
    assert mock.requests == []  # refused before Claude Code was started

    assert client.chat.completions.create(model="haiku", messages=USER).choices[0].message.content
    assert len(mock.requests) == 1


def test_key_over_its_budget_is_refused(db_proxy: Proxy, mock: MockAnthropic) -> None:
    key = generate_key(db_proxy.url, db_proxy.master_key, max_budget=1e-9)  # any real request exceeds it
    client = _client(db_proxy, key)
    client.chat.completions.create(model="sonnet", messages=USER)  # allowed: nothing spent yet
    wait_for(lambda: key_info(db_proxy.url, db_proxy.master_key, key)["spend"] > 0, "the key's spend")

    # LiteLLM's answer for a key over its max_budget: 422, type budget_exceeded.
    error = _refused(client, 422, "budget_exceeded")
    assert "Budget has been exceeded" in error["message"]
    assert len(mock.requests) == 1  # the refused request never reached Claude


def _spend_row(rows: list[dict[str, Any]], request_id: str) -> dict[str, Any] | None:
    return next((row for row in rows if row["request_id"] == request_id), None)


def _ask(
    client: openai.OpenAI, model: str, stream: bool, extra_body: dict[str, Any] | None = None
) -> tuple[str, str, CompletionUsage | None]:
    """The completion id, answering model and usage of one request, streamed or whole."""
    if not stream:
        response = client.chat.completions.create(model=model, messages=USER, extra_body=extra_body)
        return response.id, response.model, response.usage
    chunks = list(
        client.chat.completions.create(
            model=model, messages=USER, stream=True, stream_options={"include_usage": True}, extra_body=extra_body
        )
    )
    return chunks[0].id, chunks[0].model, next((chunk.usage for chunk in chunks if chunk.usage), None)


def _config_prices(model_name: str) -> dict[str, float]:
    """Per-token prices a deployment of the repo config sets itself."""
    config = yaml.safe_load(CONFIG.read_text())
    params = next(d["litellm_params"] for d in config["model_list"] if d["model_name"] == model_name)
    return {k: float(v) for k, v in params.items() if k.endswith(("_cost_per_token", "_token_cost"))}


@pytest.mark.parametrize(
    ("model", "stream", "priced_as"),
    [
        # The aliases are priced as the model they resolved to (what the response names).
        ("sonnet", False, None),
        ("sonnet", True, None),
        ("default", True, None),
        # A model retired from LiteLLM's price map carries its prices in the config.
        ("claude-3-5-haiku-20241022", False, "config"),
    ],
    ids=["sonnet-whole", "sonnet-streamed", "default-streamed", "retired-model-whole"],
)
def test_spend_is_list_price_of_the_model_that_answered(
    db_proxy: Proxy, mock: MockAnthropic, model: str, stream: bool, priced_as: str | None
) -> None:
    reply = Reply(input_tokens=1000, output_tokens=200, cache_read_input_tokens=3000, cache_creation_input_tokens=500)
    if model == "default":
        reply.model = "claude-opus-5-5"  # the account's default, which the proxy cannot know beforehand
    mock.script(reply)
    key = generate_key(db_proxy.url, db_proxy.master_key)

    request_id, answered_by, usage = _ask(_client(db_proxy, key), model, stream)

    assert len(mock.requests) == 1  # one upstream call: its usage is the whole cost
    prompt_tokens = reply.input_tokens + reply.cache_read_input_tokens + reply.cache_creation_input_tokens
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt_tokens, reply.output_tokens)
    expected = list_price(reply, _config_prices(model) if priced_as == "config" else answered_by)
    assert expected > 0
    row = wait_for(lambda: _spend_row(spend_logs(db_proxy.url, db_proxy.master_key, key), request_id), "a spend log")
    assert row["spend"] == pytest.approx(expected, rel=1e-9)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt_tokens, reply.output_tokens)
    assert row["model_group"] == model
    spend = wait_for(lambda: key_info(db_proxy.url, db_proxy.master_key, key)["spend"], "the key's spend")
    assert spend == pytest.approx(expected, rel=1e-9)


def test_keys_and_tokens_stay_out_of_logs_spend_logs_and_health(db_proxy: Proxy, mock: MockAnthropic) -> None:
    key = generate_key(db_proxy.url, db_proxy.master_key, key_alias="secrets-check")
    request_id, _, _ = _ask(_client(db_proxy, key), "sonnet", stream=True)
    mock.script(*[Reply(status=401, error_type="authentication_error", error_message="invalid token")] * 4)
    with pytest.raises(openai.APIStatusError) as failed:
        _client(db_proxy, key).chat.completions.create(model="opus", messages=USER)
    row = wait_for(lambda: _spend_row(spend_logs(db_proxy.url, db_proxy.master_key, key), request_id), "a spend log")
    health = httpx.get(f"{db_proxy.url}/health", headers={"Authorization": f"Bearer {db_proxy.master_key}"}, timeout=30)
    exposed = {
        "proxy log": db_proxy.log.read_text(errors="replace"),
        "error body": failed.value.response.text,
        "spend log row": json.dumps(row),
        "/health": health.text,
    }
    for secret in (key, db_proxy.master_key, FAKE_OAUTH_TOKEN):
        for where, text in exposed.items():
            assert secret not in text, f"a secret appears in the {where}"


def test_openai_user_is_recorded_as_the_end_user(db_proxy: Proxy, mock: MockAnthropic) -> None:
    key = generate_key(db_proxy.url, db_proxy.master_key)
    response = _client(db_proxy, key).chat.completions.create(model="sonnet", messages=USER, user="end-user-42")
    row = wait_for(lambda: _spend_row(spend_logs(db_proxy.url, db_proxy.master_key, key), response.id), "a spend log")
    assert row["end_user"] == "end-user-42"
    assert "end-user-42" not in json.dumps(mock.requests[-1].body)  # tracking only, nothing sent upstream


def _priced_as_anthropic(answered_by: str, usage: dict[str, Any]) -> float:
    """What LiteLLM prices an answer with this usage at had Anthropic's API given it."""
    response = litellm.ModelResponse(model=answered_by, usage=usage)
    return float(litellm.completion_cost(completion_response=response, custom_llm_provider="anthropic"))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_spend_counts_web_searches_at_list_price(db_proxy: Proxy, mock: MockAnthropic, stream: bool) -> None:
    """Issue 23: a searched answer's spend is its tokens plus Anthropic's $10 per 1,000 searches."""
    call = {"id": "toolu_search1", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    mock.script(Reply(chunks=[], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=["It rains a lot."]))
    key = generate_key(db_proxy.url, db_proxy.master_key)

    request_id, answered_by, usage = _ask(_client(db_proxy, key), "sonnet", stream, {"web_search_options": {}})

    assert len(mock.searches) == 1
    assert usage is not None
    counted = usage.model_dump()
    assert counted["server_tool_use"] == {"web_search_requests": 1}
    expected = _priced_as_anthropic(answered_by, counted)
    assert expected - _priced_as_anthropic(answered_by, {**counted, "server_tool_use": None}) == pytest.approx(0.01)
    row = wait_for(lambda: _spend_row(spend_logs(db_proxy.url, db_proxy.master_key, key), request_id), "a spend log")
    assert row["spend"] == pytest.approx(expected, rel=1e-9)
    spend = wait_for(lambda: key_info(db_proxy.url, db_proxy.master_key, key)["spend"], "the key's spend")
    assert spend == pytest.approx(expected, rel=1e-9)


def _tokens_at_list_price(model: str, fresh: int, output: int, cache_read: int, cache_write: int) -> float:
    prices = litellm.model_cost[model]
    return float(
        fresh * prices["input_cost_per_token"]
        + output * prices["output_cost_per_token"]
        + cache_read * prices["cache_read_input_token_cost"]
        + cache_write * prices["cache_creation_input_token_cost"]
    )


@pytest.mark.parametrize("api", ["messages", "responses"])
def test_spend_counts_web_searches_on_the_adapters(db_proxy: Proxy, mock: MockAnthropic, api: str) -> None:
    """Issue 23: /v1/messages and /v1/responses searches are priced as chat's are."""
    call = {"id": "toolu_search1", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    mock.script(Reply(chunks=[], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=["It rains a lot."]))
    key = generate_key(db_proxy.url, db_proxy.master_key)
    headers = {"Authorization": f"Bearer {key}"}
    if api == "messages":
        body = {
            "model": "sonnet",
            "max_tokens": 500,
            "messages": USER,
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        }
        answer = httpx.post(f"{db_proxy.url}/v1/messages", json=body, headers=headers, timeout=60).json()
        usage = answer["usage"]
        assert usage["server_tool_use"]["web_search_requests"] == 1
        fresh, output = usage["input_tokens"], usage["output_tokens"]
        cache_read = usage.get("cache_read_input_tokens") or 0
        cache_write = usage.get("cache_creation_input_tokens") or 0
    else:
        body = {"model": "sonnet", "input": "Hello", "tools": [{"type": "web_search"}]}
        answer = httpx.post(f"{db_proxy.url}/v1/responses", json=body, headers=headers, timeout=60).json()
        usage = answer["usage"]
        cache_read = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
        cache_write = (usage.get("input_tokens_details") or {}).get("cache_creation_tokens") or 0
        fresh, output = usage["input_tokens"] - cache_read - cache_write, usage["output_tokens"]
    assert len(mock.searches) == 1
    expected = _tokens_at_list_price(answer["model"], fresh, output, cache_read, cache_write) + 0.01
    spend = wait_for(lambda: key_info(db_proxy.url, db_proxy.master_key, key)["spend"], "the key's spend")
    assert spend == pytest.approx(expected, rel=1e-9), answer
