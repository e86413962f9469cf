"""Running one turn on a connected Claude Code process under a deadline, and stopping the turn.

A turn on a connected ``ClaudeSDKClient`` runs in a task of its own that feeds a
queue, and the consumer (the request) reads the queue under the request's
deadline. When the deadline passes, an error is raised, or the client goes
away, the consumer cancels that task. The runner stops turns, never processes:
the process's owner (``runtime.Runtime``) closes a process whose turn did not
end cleanly (``Ending.settled``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import AssistantMessage, Message, ProcessError, ResultMessage, StreamEvent

from ..sdk_seam import Client
from .frames import frames_of

__all__ = ["Deadline", "Ending", "ProcessWatch", "QueryTimeout", "SeedError", "run_turn", "seed"]

STOP_GRACE_SECONDS = 5.0  # how long a cancelled turn may take to end before we stop waiting for it
WATCH_INTERVAL_SECONDS = 0.5  # how often a quiet turn checks that its process still runs
SETTLE_SECONDS = 1.0  # how long a turn that has given its result may take to end


class QueryTimeout(Exception):
    """The request's deadline passed before Claude Code finished; ``seconds``: the time it was given."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@dataclass(frozen=True)
class Deadline:
    """When a request's time is up (event-loop time), and the seconds it was given (for its error)."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(asyncio.get_running_loop().time() + seconds, seconds)

    def passed(self) -> QueryTimeout:
        return QueryTimeout(self.seconds)


@dataclass
class Ending:
    """How a turn ended: ``settled`` once it gave its result and its task ended by itself,
    so its process holds the turn and nothing else is under way in it."""

    settled: bool = False


@dataclass(frozen=True)
class _Raised:
    error: BaseException


# What the turn's task hands the consumer: a message, its error, or None at its end.
_Item = Message | _Raised | None


async def seed(client: Client, frames: list[dict[str, Any]]) -> None:
    """Feed earlier turns (``frames.history_frames``) into a connected client without any model call.

    The notes' "Earlier turns into a running process": a user turn goes as a
    ``shouldQuery: false`` frame whose (model-less) result is awaited before the
    next frame (without the wait the CLI's order broke), an assistant turn as
    an ``assistant`` frame. Unlike a resumed transcript, a history ending in the
    assistant's tool calls then takes the client's tool results as a normal
    user turn: the CLI lists the client's tools for it and adds no
    "Continue from where you left off." note (issue 10).
    """
    for frame in frames:
        await client.query(frames_of(frame))
        if frame["type"] != "user":
            continue
        async for message in client.receive_response():
            if isinstance(message, (StreamEvent, AssistantMessage)) or (
                isinstance(message, ResultMessage) and (message.is_error or message.num_turns)
            ):
                raise SeedError("Claude Code answered an earlier turn while it was being fed")


class SeedError(ProcessError):
    """Feeding history made the CLI do something other than append it."""


async def _pump(source: Callable[[], AsyncIterator[Message]], queue: asyncio.Queue[_Item]) -> None:
    try:
        async for message in source():
            queue.put_nowait(message)
    except Exception as error:  # handed to the consumer, which maps it
        queue.put_nowait(_Raised(error))
    else:
        queue.put_nowait(None)


async def run_turn(
    client: Client,
    prompt: dict[str, Any],
    alive: Callable[[], bool],
    deadline: Deadline,
    history: list[dict[str, Any]] | None = None,
    ending: Ending | None = None,
) -> AsyncGenerator[Message, None]:
    """SDK messages of one turn on a connected ``ClaudeSDKClient``, up to its result.

    ``prompt`` is the new user turn's frame (``frames.user_message``); ``history``
    (``frames.history_frames``) is fed in first, under the same deadline.
    ``alive`` tells whether the client's CLI process still runs; ``ending`` learns
    whether the turn settled.
    """

    async def source() -> AsyncIterator[Message]:
        if history:
            await seed(client, history)
        await client.query(frames_of(prompt))
        async for message in client.receive_response():
            yield message

    async with aclosing(_drain(source, deadline, ProcessWatch(alive), ending or Ending())) as messages:
        async for message in messages:
            yield message


async def _drain(
    source: Callable[[], AsyncIterator[Message]], deadline: Deadline, watch: ProcessWatch, ending: Ending
) -> AsyncGenerator[Message, None]:
    """Messages from ``source`` until ``deadline``; its task is cancelled on any early exit."""
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    task = asyncio.create_task(_pump(source, queue))
    finished = False  # the turn's result has been passed on
    try:
        while True:
            item = await _next(queue, deadline, watch)
            if item is None:
                return
            if isinstance(item, _Raised):
                raise item.error
            finished = isinstance(item, ResultMessage)
            yield item
    finally:
        # Shielded: when the request is cancelled (client gone) the turn's task must still end.
        ending.settled = await asyncio.shield(_finish(task, finished))


async def _finish(task: asyncio.Task[None], finished: bool) -> bool:
    """Let a turn that gave its result end by itself; cancel it otherwise. Whether it settled."""
    if finished:
        with contextlib.suppress(BaseException):
            await asyncio.wait({task}, timeout=SETTLE_SECONDS)
        if task.done():
            return True
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
    return False


class ProcessWatch:
    """Notices a CLI process that died without the SDK noticing.

    The SDK learns of the end of the CLI from its stdout closing; a process
    killed while something else still holds that pipe would leave the request
    waiting until its deadline. Once the request's process has been seen, its
    disappearance ends the turn as a crash.
    """

    def __init__(self, alive: Callable[[], bool]) -> None:
        self.alive = alive
        self.seen = False

    def gone(self) -> bool:
        running = self.alive()
        self.seen = self.seen or running
        return self.seen and not running


async def _next(queue: asyncio.Queue[_Item], deadline: Deadline, watch: ProcessWatch) -> _Item:
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline.at - loop.time()
        if remaining <= 0:
            raise deadline.passed()
        try:
            return await asyncio.wait_for(queue.get(), min(remaining, WATCH_INTERVAL_SECONDS))
        except TimeoutError:
            if watch.gone():
                raise ProcessError("Claude Code exited in the middle of its answer") from None
