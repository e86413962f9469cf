"""Priming a ready session with a blank prompt: the prompt's shape, and the guard when it reached the model."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from litellm_claude_code.runner import BLANK_PROMPT, PrimeError, prime

from .sdk_messages import result, text_delta


class FakeClient:
    """A connected client that answers one query with the given messages."""

    def __init__(self, *answers: Any) -> None:
        self.answers = answers
        self.sent: list[dict[str, Any]] = []

    async def query(self, prompt: AsyncIterator[dict[str, Any]]) -> None:
        self.sent += [message async for message in prompt]

    async def receive_response(self) -> AsyncIterator[Any]:
        for answer in self.answers:
            yield answer


def test_blank_prompt_is_a_plain_whitespace_string() -> None:
    # A list of text blocks, or an empty string, would reach the model as "(no content)".
    client = FakeClient(dataclasses.replace(result(), num_turns=0))
    asyncio.run(prime(client))
    assert client.sent == [{"type": "user", "message": {"role": "user", "content": " "}, "parent_tool_use_id": None}]
    assert BLANK_PROMPT.strip() == ""
    assert isinstance(BLANK_PROMPT, str)


@pytest.mark.parametrize(
    "answers",
    [
        (text_delta("hi"), dataclasses.replace(result(), num_turns=1)),
        (dataclasses.replace(result(), num_turns=1),),
    ],
    ids=["streamed-answer", "a-turn-counted"],
)
def test_a_blank_prompt_that_reached_the_model_is_an_error(answers: tuple[Any, ...]) -> None:
    with pytest.raises(PrimeError):
        asyncio.run(prime(FakeClient(*answers)))
