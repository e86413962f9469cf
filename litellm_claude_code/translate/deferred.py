"""Anthropic's deferred tools (``defer_loading``) and ``tool_reference`` blocks, for Claude Code with tool search off.

On the Messages API a tool sent with ``defer_loading: true`` is not shown to
the model until a ``tool_reference`` block in a tool result names it (Claude
Code's ``ToolSearch`` answers with such blocks); from then on it is a tool like
any other. Claude Code, which makes the API call here, runs with its own tool
search off (``environment``), so the request is given to it already loaded: a
deferred tool that a ``tool_reference`` names is offered as a plain tool, one
that none names (Claude Code's ``DeferredToolPlaceholder``) is left out, as
the API would leave it out of the model's view; and each ``tool_reference``
block reaches the model as the text ``tool_reference: <name>`` (the CLI would
otherwise replace it with "[Tool references removed - tool search not
enabled]").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

REFERENCE = "tool_reference"


def _tool_results(messages: object) -> Iterator[dict[str, Any]]:
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_result"
                and isinstance(block.get("content"), list)
            ):
                yield block


def referenced(messages: object) -> set[str]:
    """The tools named by the ``tool_reference`` blocks of a conversation's tool results."""
    return {
        str(part.get("tool_name"))
        for block in _tool_results(messages)
        for part in block["content"]
        if isinstance(part, dict) and part.get("type") == REFERENCE
    }


def load_deferred(body: dict[str, Any]) -> None:
    """A /v1/messages body's deferred tools as the model sees them: referenced ones loaded, the others left out."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not any(isinstance(t, dict) and t.get("defer_loading") for t in tools):
        return
    found = referenced(body.get("messages"))
    loaded = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("defer_loading"):
            if tool.get("name") not in found:
                continue
            tool = {k: v for k, v in tool.items() if k != "defer_loading"}
        loaded.append(tool)
    body["tools"] = loaded


def references_as_text(turns: list[dict[str, Any]]) -> None:
    """Each ``tool_reference`` block of the turns' tool results as a text block naming its tool."""
    for block in _tool_results(turns):
        block["content"] = [
            {"type": "text", "text": f"{REFERENCE}: {part.get('tool_name')}"}
            if isinstance(part, dict) and part.get("type") == REFERENCE
            else part
            for part in block["content"]
        ]
