"""OpenAI chat messages -> the conversation Claude Code is given.

LiteLLM's own Anthropic transformation does the block conversion (text parts,
images, tool calls and results), so our conversion agrees with LiteLLM's
Anthropic provider. What remains here is splitting the result into the system
prompt, the earlier turns (carried as a resumed session) and the new user turn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from litellm.litellm_core_utils.prompt_templates.factory import _sanitize_anthropic_tool_use_id
from litellm.llms.anthropic.chat.transformation import AnthropicConfig

from .deferred import references_as_text
from .images import ImageError, check_turns, fit_turns

# Far above any Claude context window (about 1M tokens at most, ~4 MB of text),
# so only input no model could take is refused here, before a process starts.
MAX_MESSAGES_BYTES = 8 * 1024 * 1024
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
SYSTEM_ROLES = frozenset({"system", "developer"})
# LiteLLM's /v1/messages adapter turns tool_result blocks into OpenAI tool
# messages and drops their is_error; proxy_hooks carries the ids of failed calls
# to the provider in the request's metadata under this key instead.
TOOL_ERRORS_METADATA_KEY = "claude_code_failed_tool_calls"


class PromptError(ValueError):
    """The messages cannot be given to Claude as a conversation (a 400)."""


@dataclass(frozen=True)
class Conversation:
    """A chat request in Anthropic terms."""

    system: str | None
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier turns, alternating
    prompt: list[dict[str, Any]] = field(default_factory=list)  # content blocks of the new user turn

    @property
    def answers_tool_calls(self) -> bool:
        """The new turn carries tool results: the model continues its own turn."""
        return any(block.get("type") == "tool_result" for block in self.prompt)


def _check_message(index: int, message: object) -> Mapping[str, Any]:
    if not isinstance(message, Mapping):
        raise PromptError(f"messages[{index}] must be an object")
    role = message.get("role")
    if role not in KNOWN_ROLES:
        raise PromptError(f"messages[{index}].role {role!r} is not one of {sorted(KNOWN_ROLES)}")
    content = message.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise PromptError(f"messages[{index}].content must be a string or a list of parts")
    return message


def _as_system(message: Mapping[str, Any]) -> dict[str, Any]:
    # Anthropic has one system prompt: "developer" is OpenAI's newer name for it.
    return {**message, "role": "system"} if message.get("role") == "developer" else dict(message)


def check_shapes(messages: object) -> None:
    """The structural checks alone: a list of messages of known roles and content types, not too large."""
    if not isinstance(messages, list) or not messages:
        raise PromptError("messages must be a non-empty list of messages")
    for index, message in enumerate(messages):
        _check_message(index, message)
    size = len(json_bytes(messages))
    if size > MAX_MESSAGES_BYTES:
        raise PromptError(f"messages are too large: {size} bytes exceeds the limit of {MAX_MESSAGES_BYTES} bytes")


def json_bytes(value: object, sort_keys: bool = False) -> bytes:
    """``value`` as compact UTF-8 JSON (anything else as its ``str``).

    orjson: a long agent session resends hundreds of kilobytes of history with
    every request, measured and digested on the request path, where the standard
    encoder took about ten times as long. It refuses what JSON allows and Python
    has (integers past 64 bits, keys that are not strings): those take the
    standard encoder.
    """
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:
        return json.dumps(value, default=str, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")).encode()


def _normalise(messages: Sequence[object]) -> list[dict[str, Any]]:
    check_shapes(messages)
    return [_as_system(_check_message(i, m)) for i, m in enumerate(messages)]


def _system_text(blocks: object) -> str | None:
    if not blocks:
        return None
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        return None
    texts = [b.get("text", "") for b in blocks if isinstance(b, Mapping)]
    joined = "\n\n".join(t for t in texts if t)
    return joined or None


# Any model LiteLLM knows (only the messages and system prompt are used): for an
# unknown one its max_tokens lookup fails inside, printing a red "Provider List"
# banner to stdout on every request.
_TRANSFORM_MODEL = "claude-sonnet-4-5"


def _transform(messages: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        return AnthropicConfig().transform_request(
            model=_TRANSFORM_MODEL,
            messages=messages,  # type: ignore[arg-type]  # validated by _check_message
            optional_params={},
            litellm_params={},
            headers={},
        )
    except Exception as error:  # LiteLLM raises its own BadRequest/AnthropicError types
        message = getattr(error, "message", None) or str(error)
        raise PromptError(f"invalid messages: {message}") from error


def content_blocks(content: object) -> list[dict[str, Any]]:
    """A turn's content as Anthropic content blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(block) for block in content] if isinstance(content, list) else []


def _failed_calls(messages: list[dict[str, Any]], marked: Iterable[str]) -> set[str]:
    """Ids of tool calls whose result the client marked as an error.

    OpenAI's tool message has no such flag; we read ``is_error: true`` on it
    (what an Anthropic ``tool_result`` says), and LiteLLM's /v1/messages
    adapter, which drops the flag, has it carried over by proxy_hooks.
    """
    ids = {str(m.get("tool_call_id")) for m in messages if m.get("role") == "tool" and m.get("is_error") is True}
    # Matched as LiteLLM writes the ids into tool_result blocks.
    return {_sanitize_anthropic_tool_use_id(i) for i in ids | set(marked)}


def _mark_errors(turns: list[dict[str, Any]], failed: set[str]) -> None:
    for turn in turns:
        content = turn.get("content")
        for block in content if isinstance(content, list) and failed else []:
            if block.get("type") == "tool_result" and block.get("tool_use_id") in failed:
                block["is_error"] = True


def convert(messages: Sequence[object], failed_calls: Iterable[str] = ()) -> Conversation:
    """Split OpenAI messages into system prompt, earlier turns and the new turn.

    ``failed_calls``: ids of tool calls whose results are errors (see _failed_calls).
    """
    normalised = _normalise(messages)
    if all(m["role"] == "system" for m in normalised):
        raise PromptError("messages must contain a user message, not only system messages")
    if normalised[-1]["role"] == "user" and _is_empty(normalised[-1].get("content")):
        # Checked before LiteLLM's transformation, which replaces empty text with a placeholder.
        raise PromptError("the last user message is empty")
    request = _transform(normalised)
    turns = list(request.get("messages") or [])
    _mark_errors(turns, _failed_calls(normalised, failed_calls))
    references_as_text(turns)
    try:
        check_turns(turns)
    except ImageError as error:
        raise PromptError(str(error)) from None
    fit_turns(turns)
    if not turns or turns[-1].get("role") != "user":
        raise PromptError("the last message must be from the user (or a tool result)")
    prompt = content_blocks(turns[-1].get("content"))
    return Conversation(system=_system_text(request.get("system")), history=turns[:-1], prompt=prompt)


def _is_empty(content: object) -> bool:
    if isinstance(content, str) or content is None:
        return not (content or "").strip()
    return not any(_part_has_content(part) for part in content)  # type: ignore[attr-defined]  # a list of parts here: check_shapes ran first


def _part_has_content(part: object) -> bool:
    if not isinstance(part, Mapping):
        return True  # left for LiteLLM's transformation to refuse
    if part.get("type") == "text":
        return bool(str(part.get("text") or "").strip())
    return True
