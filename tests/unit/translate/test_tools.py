"""The client's function tools as Claude Code gets them: what is refused, and the rules that carry tool_choice."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_claude_code.translate.tools import ToolError, tool_spec

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
