"""Feeding earlier turns into a connected client: the frames, their order, and the guard."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import pytest

from litellm_claude_code.runtime.frames import history_frames
from litellm_claude_code.runtime.runner import SeedError, seed

from ..sdk_messages import result, text_delta

QUIET = dataclasses.replace(result(), num_turns=0)  # what the CLI answers to a shouldQuery:false frame


class FakeClient:
    """Records frames; answers each user frame with ``answers`` (a model-less result by default)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = answers or (QUIET,)
        self.sent: list[dict[str, Any]] = []
        self.reads = 0

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None:
        self.sent += [message async for message in prompt]

    async def receive_response(self) -> AsyncIterator[Any]:
        self.reads += 1
        for answer in self.answers:
            yield answer

    async def disconnect(self) -> None:
        raise AssertionError("feeding history never lets the process go")


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "mcp__client__f", "input": {}}
TURNS: list[dict[str, Any]] = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": [{"type": "text", "text": "calling"}, TOOL_USE]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
]


def test_each_turn_is_one_frame_in_order_user_turns_without_a_model_call() -> None:
    client = FakeClient()
    asyncio.run(seed(client, history_frames(TURNS)))
    shapes = [(f["type"], f.get("shouldQuery"), f["message"]["content"]) for f in client.sent]
    assert shapes == [
        ("user", False, [{"type": "text", "text": "hi"}]),
        ("assistant", None, TURNS[1]["content"]),
        ("user", False, TURNS[2]["content"]),
        ("assistant", None, TURNS[3]["content"]),
    ]
    assert client.reads == 2  # the result of every user frame is awaited before the next frame
    assert len({f["uuid"] for f in client.sent}) == 4


@pytest.mark.parametrize(
    "answers",
    [
        (text_delta("hi"), QUIET),
        (dataclasses.replace(result(), num_turns=1),),
        (dataclasses.replace(result(is_error=True), num_turns=0),),
    ],
    ids=["streamed", "a-turn-counted", "an-error"],
)
def test_a_fed_turn_that_the_cli_answered_is_an_error(answers: tuple[Any, ...]) -> None:
    with pytest.raises(SeedError):
        asyncio.run(seed(FakeClient(*answers), history_frames(TURNS[:1])))
