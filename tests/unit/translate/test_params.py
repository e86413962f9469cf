"""OpenAI parameters: honoured, refused with a 400 naming them, or documented as ignored."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_claude_code.translate.params import IGNORED, Controls, ParamError, cli_env, controls_from


@pytest.mark.parametrize(
    ("params", "controls"),
    [
        ({}, Controls()),
        ({"max_tokens": 50}, Controls(max_tokens=50)),
        ({"max_completion_tokens": 60, "max_tokens": 50}, Controls(max_tokens=60)),
        ({"stop": "END"}, Controls(stop=("END",))),
        ({"stop": ["a", "b"]}, Controls(stop=("a", "b"))),
        ({"reasoning_effort": "high"}, Controls(effort="high")),
        ({"reasoning_effort": "minimal"}, Controls(effort="low")),
        ({"reasoning_effort": "none"}, Controls(thinking={"type": "disabled"})),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            Controls(thinking={"type": "enabled", "budget_tokens": 2048}),
        ),
        ({"thinking": {"type": "adaptive"}}, Controls(thinking={"type": "adaptive"})),
        (dict.fromkeys(IGNORED, 1), Controls()),  # accepted, and nothing of them reaches Claude Code
        ({"n": 1, "response_format": {"type": "text"}}, Controls()),
        ({"response_format": {"type": "json_object"}}, Controls(output_schema={"type": "object"})),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "p", "schema": {"type": "object", "required": ["a"]}},
                }
            },
            Controls(output_schema={"type": "object", "required": ["a"]}),
        ),
    ],
)
def test_controls(params: dict[str, Any], controls: Controls) -> None:
    assert controls_from(params) == controls


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"n": 2}, "n=2 is not supported"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"max_tokens": 0}, "max_tokens must be a positive integer"),
        ({"max_tokens": "5"}, "max_tokens must be a positive integer"),
        ({"stop": ["a", ""]}, "stop must be"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort must be one of"),
        ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "budget_tokens"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "name must match"),
        ({"response_format": {"type": "xml"}}, "response_format type must be"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "needs json_schema.schema"),
    ],
)
def test_refusals(params: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ParamError, match=complaint):
        controls_from(params)


@pytest.mark.parametrize(
    ("controls", "env"),
    [
        (Controls(), {}),
        (Controls(max_tokens=77), {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "77"}),
        (Controls(thinking={"type": "disabled"}), {"CLAUDE_CODE_DISABLE_THINKING": "1"}),
        (Controls(thinking={"type": "enabled", "budget_tokens": 3000}), {"MAX_THINKING_TOKENS": "3000"}),
    ],
)
def test_cli_env(controls: Controls, env: dict[str, str]) -> None:
    assert cli_env(controls) == env


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"web_search_options": {}}, "WebSearch"),
        ({"response_format": {"type": "json_object"}}, "StructuredOutput"),
    ],
)
def test_a_client_function_named_as_a_tool_the_request_enables_is_refused(params: dict[str, Any], named: str) -> None:
    function = {"type": "function", "function": {"name": named, "parameters": {"type": "object"}}}
    with pytest.raises(ParamError, match=f"'{named}'.*rename the function"):
        controls_from({**params, "tools": [function]})
    assert controls_from({"tools": [function]}).tools.names == {named}  # without it, the name is the client's
