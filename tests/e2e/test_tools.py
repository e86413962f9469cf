"""OpenAI function calling end to end: the client's functions, deferred back to the client."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.anthropic_mock import CLAUDE_CODE_TOOLS, MockAnthropic, Reply

pytestmark = pytest.mark.e2e

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current time", "parameters": {"type": "object", "properties": {}}},
}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


def _call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"id": call_id, "name": name, "input": arguments}


def _offered(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in body.get("tools") or [] if t["name"] not in CLAUDE_CODE_TOOLS}


def test_tool_call_then_result_then_answer(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(
        Reply(
            chunks=["Let me check."],
            tool_uses=[_call("get_weather", {"city": "Paris"}, "toolu_w1")],
            stop_reason="tool_use",
        )
    )
    first = client.chat.completions.create(model="sonnet", messages=ASK, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_w1",
        "get_weather",
        {"city": "Paris"},
    )
    offered = _offered(mock.requests[-1].body)
    assert list(offered) == ["get_weather"]
    assert offered["get_weather"]["input_schema"] == WEATHER["function"]["parameters"]
    assert not any(t["name"] in ("Bash", "Read", "Write") for t in mock.requests[-1].body["tools"])

    mock.script(Reply(chunks=["It is sunny in Paris."]))
    follow_up = [
        *ASK,
        {"role": "assistant", "content": "Let me check.", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": "toolu_w1", "content": "sunny, 21C"},
    ]
    final = client.chat.completions.create(model="sonnet", messages=follow_up, tools=[WEATHER])
    assert final.choices[0].message.content == "It is sunny in Paris."
    assert final.choices[0].finish_reason == "stop"
    turns = [m for m in mock.requests[-1].body["messages"] if m["role"] in ("user", "assistant")]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    tool_use = [b for b in turns[1]["content"] if b["type"] == "tool_use"]
    assert tool_use == [{"type": "tool_use", "id": "toolu_w1", "name": "get_weather", "input": {"city": "Paris"}}]
    results = [b for b in turns[2]["content"] if b["type"] == "tool_result"]
    assert results[0]["tool_use_id"] == "toolu_w1"
    assert "sunny, 21C" in json.dumps(results[0]["content"])


def test_parallel_calls_come_back_together(client: openai.OpenAI, mock: MockAnthropic) -> None:
    calls = [_call("get_weather", {"city": "Paris"}, "toolu_a"), _call("get_time", {}, "toolu_b")]
    mock.script(Reply(chunks=[], tool_uses=calls, stop_reason="tool_use"))
    response = client.chat.completions.create(model="sonnet", messages=ASK, tools=[WEATHER, TIME])
    assert [c.function.name for c in response.choices[0].message.tool_calls] == ["get_weather", "get_time"]


def test_parallel_tool_calls_false_gives_one_call(client: openai.OpenAI, mock: MockAnthropic) -> None:
    calls = [_call("get_weather", {"city": "Paris"}, "toolu_a"), _call("get_time", {}, "toolu_b")]
    mock.script(Reply(chunks=[], tool_uses=calls, stop_reason="tool_use"))
    response = client.chat.completions.create(
        model="sonnet", messages=ASK, tools=[WEATHER, TIME], parallel_tool_calls=False
    )
    assert [c.function.name for c in response.choices[0].message.tool_calls] == ["get_weather"]
    assert "at most one tool" in " ".join(b["text"] for b in mock.requests[-1].body["system"])


def test_streamed_tool_call_deltas_reassemble(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(
        Reply(
            chunks=["Checking."], tool_uses=[_call("get_weather", {"city": "Oslo"}, "toolu_s")], stop_reason="tool_use"
        )
    )
    stream = client.chat.completions.create(model="sonnet", messages=ASK, tools=[WEATHER], stream=True)
    name, arguments, call_id, finish, text = "", "", None, None, ""
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            call_id = call.id or call_id
            name += call.function.name or ""
            arguments += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (call_id, name, json.loads(arguments), finish, text) == (
        "toolu_s",
        "get_weather",
        {"city": "Oslo"},
        "tool_calls",
        "Checking.",
    )


@pytest.mark.parametrize(
    ("tool_choice", "offered", "rule"),
    [
        ("auto", ["get_time", "get_weather"], None),
        ("none", [], None),
        (
            "required",
            ["get_time", "get_weather"],
            "must answer by calling one of the available tools",
        ),
        (
            {"type": "function", "function": {"name": "get_time"}},
            ["get_time"],
            "calling the tool get_time",
        ),
    ],
)
def test_tool_choice_takes_effect(
    client: openai.OpenAI, mock: MockAnthropic, tool_choice: Any, offered: list[str], rule: str | None
) -> None:
    client.chat.completions.create(model="sonnet", messages=ASK, tools=[WEATHER, TIME], tool_choice=tool_choice)
    body = mock.requests[-1].body
    assert sorted(_offered(body)) == offered
    system = " ".join(b["text"] for b in body["system"])
    if rule:
        assert rule in system
    else:
        assert "must answer by calling" not in system


@pytest.mark.parametrize(
    ("tools", "complaint"),
    [
        ([{"type": "function", "function": {"description": "no name"}}], "name must match"),
        (
            [
                {
                    "type": "function",
                    "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": 5}}}},
                }
            ],
            "not a valid JSON Schema",
        ),
        ([WEATHER, WEATHER], "duplicate tool names"),
        ([{"type": "code_interpreter"}], "only tools of type 'function'"),
    ],
)
def test_bad_tool_definitions_are_400(client: openai.OpenAI, mock: MockAnthropic, tools: Any, complaint: str) -> None:
    with pytest.raises(openai.BadRequestError, match=complaint):
        client.chat.completions.create(model="sonnet", messages=ASK, tools=tools)
    assert mock.requests == []


def test_long_tool_description_reaches_the_model_whole(client: openai.OpenAI, mock: MockAnthropic) -> None:
    # Claude Code cuts MCP tool descriptions at 4,096 characters unless told
    # otherwise (CLAUDE_CODE_MAX_MCP_DESCRIPTION_LENGTH); OpenCode's bash tool
    # sends 4,628. The client's description must arrive as sent.
    description = " ".join(f"rule{i}." for i in range(1500))  # about 11,000 characters
    assert len(description) > 10_000
    tool = {"type": "function", "function": {**WEATHER["function"], "description": description}}
    mock.script(Reply(chunks=["ok"]))
    client.chat.completions.create(model="sonnet", messages=ASK, tools=[tool])
    assert _offered(mock.requests[-1].body)["get_weather"]["description"] == description
