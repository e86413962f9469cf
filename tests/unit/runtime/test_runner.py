"""One turn on a connected client: feeding earlier turns (frames, order, the guard), the deadline,
a process that dies unnoticed, and how the turn ended (``Ending.settled``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import pytest
from claude_agent_sdk import ProcessError

from litellm_claude_code.runtime import runner
from litellm_claude_code.runtime.frames import history_frames, user_message
from litellm_claude_code.runtime.runner import Deadline, Ending, QueryTimeout, SeedError, run_turn, seed

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


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
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


class Turn:
    """A client whose turn answers ``messages``, then, unless ``ends``, waits until cancelled."""

    def __init__(self, *messages: Any, ends: bool = True, raises: Exception | None = None) -> None:
        self.messages, self.ends, self.raises = messages, ends, raises
        self.cancelled = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None:
        self.sent += [message async for message in prompt]

    async def receive_response(self) -> AsyncIterator[Any]:
        for message in self.messages:
            yield message
        if self.raises is not None:
            raise self.raises
        if not self.ends:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise

    async def disconnect(self) -> None:
        raise AssertionError("the runner never lets the process go")


async def _read(
    client: Turn, seconds: float = 30.0, alive: Any = lambda: True, take: int | None = None
) -> tuple[list[Any], Ending]:
    ending = Ending()
    turn = run_turn(
        client, user_message([{"type": "text", "text": "hi"}]), alive, Deadline.after(seconds), None, ending
    )
    read: list[Any] = []
    async with contextlib.aclosing(turn) as messages:
        async for message in messages:
            read.append(message)
            if take is not None and len(read) == take:
                break
    return read, ending


def test_a_turn_that_gives_its_result_and_ends_settles() -> None:
    read, ending = asyncio.run(_read(Turn(text_delta("hi"), result())))
    assert len(read) == 2
    assert ending.settled


def test_a_turn_closed_before_its_result_is_cancelled_and_not_settled() -> None:
    client = Turn(text_delta("hi"), result(), ends=False)

    async def scenario() -> Ending:
        _, ending = await _read(client, take=1)  # the consumer went away after one message
        return ending

    assert not asyncio.run(scenario()).settled
    assert client.cancelled.is_set()  # the turn's task was stopped, not left reading


def test_a_turn_that_does_not_end_after_its_result_is_cancelled_and_not_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "SETTLE_SECONDS", 0.05)
    client = Turn(result(), ends=False)
    read, ending = asyncio.run(_read(client, take=1))
    assert len(read) == 1
    assert not ending.settled
    assert client.cancelled.is_set()


def test_the_deadline_ends_a_quiet_turn_with_the_requests_seconds() -> None:
    client = Turn(ends=False)
    with pytest.raises(QueryTimeout) as passed:
        asyncio.run(_read(client, seconds=0.2))
    assert passed.value.seconds == 0.2
    assert client.cancelled.is_set()


def test_a_process_that_dies_unnoticed_ends_the_turn_as_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "WATCH_INTERVAL_SECONDS", 0.01)
    states = iter([True, False])  # seen running, then gone

    with pytest.raises(ProcessError, match="exited in the middle"):
        asyncio.run(_read(Turn(ends=False), alive=lambda: next(states, False)))


def test_a_process_never_seen_running_is_not_taken_for_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "WATCH_INTERVAL_SECONDS", 0.01)
    with pytest.raises(QueryTimeout):  # no pid to watch (a fake): only the deadline ends it
        asyncio.run(_read(Turn(ends=False), seconds=0.2, alive=lambda: False))


def test_an_error_of_the_turn_reaches_the_consumer_as_it_is() -> None:
    with pytest.raises(ProcessError, match="boom"):
        asyncio.run(_read(Turn(text_delta("hi"), raises=ProcessError("boom"))))
