"""ClaudeCodeProvider over a fake runtime: the reply a kept process holds, outcomes, the error boundary.

The runtime learns the reply only from an answer that ended (``answer.answer``);
every request is counted once by its status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import litellm
import pytest

from claude_code_provider import ClaudeCodeProvider
from litellm_claude_code.request import ChatRequest

from .sdk_messages import assistant, block_stop, message_delta, message_start, result, text_delta, text_start

ANSWER = [
    message_start(),
    text_start(),
    text_delta("Hel"),
    text_delta("lo"),
    block_stop(),
    message_delta(),
    assistant("Hello"),
]


class FakeTurn:
    def __init__(self, messages: list[Any]) -> None:
        self._messages = messages
        self.reply: list[dict[str, Any]] | None = None

    async def messages(self) -> AsyncGenerator[Any, None]:
        for message in self._messages:
            yield message

    def hold(self, reply: list[dict[str, Any]] | None) -> None:
        self.reply = reply

    def searches(self) -> None:
        return None  # talks to its API directly


class FakeRuntime:
    """Lends turns of the scripted messages and, like the runtime, records what each turn held at its end."""

    def __init__(self, messages: list[Any], replies: list[list[dict[str, Any]] | None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.messages = messages
        self.replies = replies

    @contextlib.asynccontextmanager
    async def turn(self, request: ChatRequest) -> AsyncIterator[FakeTurn]:
        turn = FakeTurn(self.messages)
        try:
            yield turn
        finally:
            self.replies.append(turn.reply)

    def abandon(self) -> None:
        pass


def _provider(messages: list[Any], replies: list[list[dict[str, Any]] | None]) -> ClaudeCodeProvider:
    # a fake with the runtime's turn, loop and abandon, made in the request's loop
    make = lambda: FakeRuntime(messages, replies)  # noqa: E731
    return ClaudeCodeProvider(environ={}, runtime=make, pooling=True)  # type: ignore[arg-type]


def _serve(
    messages: list[Any],
    replies: list[list[dict[str, Any]] | None],
    read: int | None = None,
    provider: ClaudeCodeProvider | None = None,
    **kwargs: Any,
) -> list[Any]:
    """The chunks a client read (all, or only the first ``read``); ``replies`` gets what the runtime was told."""

    async def scenario() -> list[Any]:
        served = provider or _provider(messages, replies)
        chunks = []
        stream = served.astreaming("sonnet", [{"role": "user", "content": "hi"}], **kwargs)
        try:
            async for chunk in stream:
                chunks.append(chunk)
                if read is not None and len(chunks) == read:
                    break  # the client went away
        finally:
            await stream.aclose()  # type: ignore[attr-defined]  # astreaming is an async generator
        return chunks

    return asyncio.run(scenario())


def test_a_clean_plain_answer_tells_its_reply() -> None:
    replies: list[list[dict[str, Any]] | None] = []
    chunks = _serve([*ANSWER, result()], replies)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert replies == [[{"type": "text", "text": "Hello"}]]


def test_a_client_gone_mid_stream_leaves_no_reply() -> None:
    replies: list[list[dict[str, Any]] | None] = []
    assert len(_serve([*ANSWER, result()], replies, read=1)) == 1
    assert replies == [None]


@pytest.mark.parametrize(
    ("end", "exception"),
    [
        ([result(is_error=True, api_error_status=529, text="overloaded")], litellm.ServiceUnavailableError),
        ([], litellm.BadGatewayError),  # the turn ended without a result
    ],
)
def test_a_failure_leaves_no_reply_and_is_mapped_at_the_provider(end: list[Any], exception: type[Exception]) -> None:
    replies: list[list[dict[str, Any]] | None] = []
    with pytest.raises(exception) as caught:
        _serve([*ANSWER, *end], replies)
    assert getattr(caught.value, "model", None) == "sonnet"
    assert replies == [None]


def test_every_request_is_counted_once_by_its_status() -> None:
    replies: list[list[dict[str, Any]] | None] = []
    script = [*ANSWER, result()]  # what the provider's runtimes serve, changed in place below
    provider = _provider(script, replies)
    _serve([], replies, provider=provider)  # answered
    _serve([], replies, read=1, provider=provider)  # the client went away after one chunk
    with pytest.raises(litellm.BadRequestError, match="stop"):  # refused before any turn
        _serve([], replies, provider=provider, optional_params={"stop": ["a", "b", "c", "d", "e"]})
    script[:] = [*ANSWER, result(is_error=True, api_error_status=529, text="overloaded")]
    with pytest.raises(litellm.ServiceUnavailableError):
        _serve([], replies, provider=provider)
    assert provider.outcomes.by_status == {200: 1, 499: 1, 400: 1, 503: 1}


def test_a_whole_answer_is_counted_and_mapped_once() -> None:
    provider = _provider([*ANSWER, result()], [])
    response = asyncio.run(provider.acompletion("sonnet", [{"role": "user", "content": "hi"}]))
    assert response.choices[0].message.content == "Hello"
    with pytest.raises(litellm.BadRequestError):
        asyncio.run(provider.acompletion("sonnet", [{"role": "user", "content": 5}]))
    assert provider.outcomes.by_status == {200: 1, 400: 1}
