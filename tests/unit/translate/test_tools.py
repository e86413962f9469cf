"""The client's function tools as Claude Code gets them: what is refused, and the rules that carry tool_choice."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.translate.params import controls_from
from litellm_claude_code.translate.stream import translator_for
from litellm_claude_code.translate.tools import ToolError, cli_history, sdk_options, tool_spec

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"functions": [{"name": "f"}]}, "legacy 'functions' parameter is not supported"),
        ({"tools": {"type": "function"}}, "tools must be a list"),
        ({"tools": [{"type": "web_search"}]}, r"tools\[0\]: only tools of type 'function'"),
        ({"tools": ["get_weather"]}, r"tools\[0\]: only tools of type 'function'"),
        ({"tools": [{"type": "function"}]}, r"tools\[0\]\.function is missing"),
        ({"tools": [{"type": "function", "function": {"name": "has space"}}]}, r"function\.name must match"),
        ({"tools": [{"type": "function", "function": {"name": 7}}]}, r"function\.name must match"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
            "must be a JSON Schema of type 'object'",
        ),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "required": 3}}}
                ]
            },
            "is not a valid JSON Schema",
        ),
        ({"tools": [WEATHER, WEATHER]}, r"duplicate tool names: \['get_weather'\]"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice must be"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "other"}}}, "not in tools"),
        ({"tool_choice": "required"}, "tool_choice is set but no tools are given"),
    ],
)
def test_malformed_tools_are_refused_naming_the_problem(params: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ToolError, match=complaint):
        tool_spec(params)


@pytest.mark.parametrize(
    ("params", "instructions"),
    [
        ({"tools": [WEATHER]}, None),
        ({"tools": [WEATHER], "tool_choice": "none"}, None),
        ({"tools": [WEATHER], "tool_choice": "required"}, "You must answer by calling one of the available tools."),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            "You must answer by calling the tool get_weather.",
        ),
        ({"tools": [WEATHER], "parallel_tool_calls": False}, "Call at most one tool in a turn."),
        ({"tool_choice": "none"}, None),  # nothing to call: no rule either
    ],
)
def test_tool_choice_and_parallel_calls_become_rules(params: dict[str, Any], instructions: str | None) -> None:
    assert tool_spec(params).instructions == instructions


def test_a_function_without_parameters_takes_an_empty_object() -> None:
    [function] = tool_spec({"tools": [{"type": "function", "function": {"name": "now"}}]}).functions
    assert (function.name, function.description, function.parameters) == (
        "now",
        "",
        {"type": "object", "properties": {}},
    )


def _function(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}


def test_functions_reach_claude_code_under_the_clients_names_but_toolsearch() -> None:
    spec = tool_spec({"tools": [_function("Bash"), _function("ToolSearch"), _function("DeferredToolPlaceholder")]})
    options = sdk_options(spec)
    assert options["allowed_tools"] == ["Bash", "mcp__client__ToolSearch", "DeferredToolPlaceholder"]
    assert spec.cli_names == {
        "Bash": "Bash",
        "mcp__client__ToolSearch": "ToolSearch",
        "DeferredToolPlaceholder": "DeferredToolPlaceholder",
    }


def test_only_the_clients_calls_are_deferred() -> None:
    spec = tool_spec({"tools": [_function("Bash"), _function("ToolSearch")]})
    [matcher] = sdk_options(spec)["hooks"]["PreToolUse"]
    [defer] = matcher.hooks

    def decided(name: str) -> Any:
        return asyncio.run(defer(cast(sdk.HookInput, {"tool_name": name}), None, {"signal": None}))

    assert decided("Bash")["hookSpecificOutput"]["permissionDecision"] == "defer"
    assert decided("mcp__client__ToolSearch")["hookSpecificOutput"]["permissionDecision"] == "defer"
    assert decided("WebSearch") == {}


def test_earlier_toolsearch_calls_are_given_under_the_name_the_model_knows() -> None:
    call = {"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {"query": "select:Grep"}}
    other = {"type": "tool_use", "id": "t2", "name": "Bash", "input": {}}
    turns: list[dict[str, Any]] = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [call, other]}]
    renamed = cli_history(turns)
    assert [b["name"] for b in renamed[1]["content"]] == ["mcp__client__ToolSearch", "Bash"]
    assert cli_history(turns[:1]) == turns[:1]
    assert turns[1]["content"][0]["name"] == "ToolSearch"  # the request's own turns are left as they are


@pytest.mark.parametrize("parallel", [True, False])
def test_a_toolsearch_call_comes_back_under_the_clients_name(parallel: bool) -> None:
    controls = controls_from({"tools": [_function("ToolSearch")], "parallel_tool_calls": parallel})
    translator = translator_for("sonnet", controls)
    call = sdk.ToolUseBlock(id="t1", name="mcp__client__ToolSearch", input={"query": "select:Grep"})
    message = sdk.AssistantMessage(content=[call], model="claude-mock", message_id="m1", stop_reason="tool_use")
    chunks = translator.feed(message)
    calls = [getattr(c, "function", None) for chunk in chunks for c in chunk.choices[0].delta.tool_calls or []]
    names = [f.name for f in calls if f is not None]
    assert names == ["ToolSearch"]
