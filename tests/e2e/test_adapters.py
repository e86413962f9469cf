"""LiteLLM's adapters over our provider: Anthropic /v1/messages and OpenAI /v1/responses."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.anthropic_mock import CLAUDE_CODE_TOOLS, MockAnthropic, Reply

from .harness import Proxy

pytestmark = pytest.mark.e2e

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CALL = {"id": "toolu_m1", "name": "get_weather", "input": {"city": "Rome"}}


@pytest.fixture
def claude(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=proxy.master_key, max_retries=0, timeout=60)


def test_messages_text_with_usage(claude: anthropic.Anthropic, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["Ciao", "!"], input_tokens=17, output_tokens=3))
    message = claude.messages.create(model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    assert [b.text for b in message.content if b.type == "text"] == ["Ciao!"]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (17, 3)
    assert message.stop_reason == "end_turn"


def test_messages_stream_text(claude: anthropic.Anthropic, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["one ", "two ", "three"], delay=0.05))
    with claude.messages.stream(
        model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "Count"}]
    ) as stream:
        deltas = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(deltas) == "one two three"
    assert len(deltas) >= 3
    assert final.usage.output_tokens == 5


@pytest.mark.parametrize("stream", [False, True])
def test_messages_tool_use(claude: anthropic.Anthropic, mock: MockAnthropic, stream: bool) -> None:
    mock.script(Reply(chunks=["Checking."], tool_uses=[CALL], stop_reason="tool_use"))
    request = {
        "model": "sonnet",
        "max_tokens": 100,
        "tools": [WEATHER_TOOL],
        "messages": [{"role": "user", "content": "Rome?"}],
    }
    if stream:
        with claude.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = claude.messages.create(**request)
    [tool_use] = [b for b in message.content if b.type == "tool_use"]
    assert (tool_use.name, tool_use.input) == ("get_weather", {"city": "Rome"})
    assert message.stop_reason == "tool_use"


def test_responses_text(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["Hello ", "there."]))
    response = client.responses.create(model="sonnet", input="Hi")
    assert response.output_text == "Hello there."


def test_responses_stream_text(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["a", "b", "c"]))
    deltas = [
        e.delta
        for e in client.responses.create(model="sonnet", input="Hi", stream=True)
        if e.type == "response.output_text.delta"
    ]
    assert "".join(deltas) == "abc"


@pytest.mark.parametrize("stream", [False, True])
def test_responses_function_call(client: openai.OpenAI, mock: MockAnthropic, stream: bool) -> None:
    mock.script(Reply(chunks=[], tool_uses=[CALL], stop_reason="tool_use"))
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]}
    if stream:
        events = list(client.responses.create(model="sonnet", input="Rome?", tools=[tool], stream=True))
        completed = next(e for e in events if e.type == "response.completed").response
        calls = [o for o in completed.output if o.type == "function_call"]
    else:
        calls = [
            o
            for o in client.responses.create(model="sonnet", input="Rome?", tools=[tool]).output
            if o.type == "function_call"
        ]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Rome"})]


def test_messages_errors(claude: anthropic.Anthropic, proxy: Proxy, mock: MockAnthropic) -> None:
    import httpx

    overloaded = Reply(status=529, error_type="overloaded_error", error_message="Overloaded")
    mock.script(*[overloaded] * 8)
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude.messages.create(model="opus", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 503
    # Streamed: with router_settings.enable_weighted_failover (our config) LiteLLM
    # holds the response until the first content, so a failure before it is a
    # plain HTTP error, not "200 + SSE error event" (documented in docs/endpoints.md).
    mock.script(*[overloaded] * 8)
    body = {"model": "opus", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    response = httpx.post(f"{proxy.url}/v1/messages", headers={"x-api-key": proxy.master_key}, json=body, timeout=60)
    assert response.status_code == 503, response.text
    assert "overloaded" in response.text.lower()


def test_responses_tools_claude_code_cannot_carry_are_left_out_and_logged_once(
    client: openai.OpenAI, mock: MockAnthropic, proxy: Proxy
) -> None:
    function = {"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]}
    patch = {
        "type": "custom",
        "name": "apply_patch",
        "description": "Apply a patch",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
    }
    tools = [{"type": "web_search"}, {"type": "local_shell"}, patch, function]
    offset = proxy.log.stat().st_size
    for _ in range(2):
        client.responses.create(model="sonnet", input="Hi", tools=tools)
        names = [t["name"] for t in mock.requests[-1].body["tools"]]
        offered = sorted(n for n in names if n not in CLAUDE_CODE_TOOLS)
        # a custom (freeform) tool arrives as a function taking its text; hosted tools do not arrive,
        # but web_search, which Claude's own search answers (test_search.py)
        assert offered == ["apply_patch", "get_weather"]
        assert "WebSearch" in names
    log = proxy.log.read_bytes()[offset:].decode(errors="replace")
    assert log.count("tool of type 'local_shell' cannot reach Claude Code") == 1
