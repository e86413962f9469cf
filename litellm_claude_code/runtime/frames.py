"""Stream-json frames for a running Claude Code process, and the answers history is made of: pure, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from typing import Any

from ..translate.prompt import content_blocks

# The model named on an earlier answer that no model call made (fed, or written to a transcript).
HISTORY_MODEL = "<history>"


def user_message(blocks: list[dict[str, Any]], query: bool = True) -> dict[str, Any]:
    """A streamed user message: content blocks (text, images, tool results) as Claude gets them.

    Each frame carries a uuid (the CLI keeps it on the turn). ``query=False``
    (``shouldQuery: false``) appends the turn to the conversation without a
    model call: how earlier turns are fed to a running process.
    """
    frame: dict[str, Any] = {
        "type": "user",
        "message": {"role": "user", "content": blocks},
        "parent_tool_use_id": None,
        "uuid": str(uuid.uuid4()),
    }
    if not query:
        frame["shouldQuery"] = False
    return frame


def history_answer(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """An earlier assistant turn as an Anthropic message, as if answered (fed, or in a transcript)."""
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": HISTORY_MODEL,
        "content": blocks,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def assistant_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """An earlier assistant turn, fed to a running process as it was answered."""
    return {
        "type": "assistant",
        "message": history_answer(blocks),
        "parent_tool_use_id": None,
        "session_id": "",
        "uuid": str(uuid.uuid4()),
    }


def history_frames(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier turns as the frames ``runner.seed`` sends: user turns with ``shouldQuery: false``."""
    return [
        assistant_message(content_blocks(t.get("content")))
        if t.get("role") == "assistant"
        else user_message(content_blocks(t.get("content")), query=False)
        for t in turns
    ]


async def frames_of(*messages: dict[str, Any]) -> AsyncIterable[dict[str, Any]]:
    """Frames as the stream a client's ``query`` takes."""
    for message in messages:
        yield message
