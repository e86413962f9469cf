"""Deferred tools and tool_reference blocks, as the model is given them with Claude Code's tool search off."""

from __future__ import annotations

from typing import Any

from litellm_claude_code.translate.deferred import load_deferred, references_as_text
from litellm_claude_code.translate.prompt import convert

SCHEMA = {"type": "object", "properties": {}}
PLACEHOLDER = {
    "name": "DeferredToolPlaceholder",
    "description": "never call",
    "input_schema": SCHEMA,
    "defer_loading": True,
}
CRON = {"name": "CronList", "description": "list jobs", "input_schema": SCHEMA, "defer_loading": True}
BASH = {"name": "Bash", "description": "run", "input_schema": SCHEMA}
FOUND = {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "tool_reference", "tool_name": "CronList"}]}


def _body(*tools: dict[str, Any], found: bool = False) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    if found:
        call = {"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {"query": "select:CronList"}}
        messages += [{"role": "assistant", "content": [call]}, {"role": "user", "content": [FOUND]}]
    return {"model": "claude-opus-5-5", "messages": messages, "tools": list(tools)}


def test_a_deferred_tool_no_reference_names_is_left_out() -> None:
    body = _body(BASH, PLACEHOLDER, CRON)
    load_deferred(body)
    assert body["tools"] == [BASH]


def test_a_referenced_deferred_tool_is_offered_loaded() -> None:
    body = _body(BASH, PLACEHOLDER, CRON, found=True)
    load_deferred(body)
    assert body["tools"] == [BASH, {k: v for k, v in CRON.items() if k != "defer_loading"}]


def test_a_body_without_deferred_tools_is_left_alone() -> None:
    body = _body(BASH)
    load_deferred(body)
    assert body == _body(BASH)
    empty: dict[str, Any] = {"messages": []}
    load_deferred(empty)
    assert empty == {"messages": []}


def test_a_tool_reference_reaches_the_model_as_text_naming_the_tool() -> None:
    turns: list[dict[str, Any]] = [{"role": "user", "content": [dict(FOUND), {"type": "text", "text": "Tool loaded."}]}]
    references_as_text(turns)
    assert turns[0]["content"][0]["content"] == [{"type": "text", "text": "tool_reference: CronList"}]
    assert turns[0]["content"][1] == {"type": "text", "text": "Tool loaded."}


def test_a_tool_message_with_a_tool_reference_part_converts() -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "ToolSearch", "arguments": "{}"}}
    reference = {"type": "tool_reference", "tool_name": "CronList"}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "t1", "content": [reference]},
    ]
    [result] = convert(messages).prompt
    assert result["content"] == [{"type": "text", "text": "tool_reference: CronList"}]
