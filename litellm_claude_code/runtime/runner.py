"""Running one Claude Code turn with a deadline, and stopping it for sure.

The SDK's ``query()`` owns an anyio task group and a CLI process; it must be
closed by the task that opened it. So a turn (a one-shot ``query()`` or a turn
on a connected ``ClaudeSDKClient``) runs in a task of its own that feeds a
queue, and the consumer (the request) reads the queue under the request's
deadline. When the deadline passes, an error is raised, or the client goes
away, the consumer stops the CLI process and cancels that task.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, Message, ProcessError, ResultMessage, StreamEvent

from .pids import children_in, stop
from .protocols import Client, QueryFunction

__all__ = [  # QueryFunction is imported from here by the provider
    "Deadline",
    "Locate",
    "ProcessWatch",
    "QueryFunction",
    "QueryTimeout",
    "SeedError",
    "assistant_message",
    "content_blocks",
    "frames_of",
    "history_frames",
    "run_query",
    "run_turn",
    "seed",
    "user_message",
]

STOP_GRACE_SECONDS = 5.0  # how long cleanup may take before we stop waiting for it
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


@dataclass(frozen=True)
class _Raised:
    error: BaseException


# What the turn's task hands the consumer: a message, its error, or None at its end.
_Item = Message | _Raised | None


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


def assistant_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """An earlier assistant turn, fed to a running process as it was answered."""
    return {
        "type": "assistant",
        "message": {
            "id": f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": "<history>",
            "content": blocks,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        },
        "parent_tool_use_id": None,
        "session_id": "",
        "uuid": str(uuid.uuid4()),
    }


def content_blocks(content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(block) for block in content or []]


def history_frames(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier turns as the frames ``seed`` sends: user turns with ``shouldQuery: false``."""
    return [
        assistant_message(content_blocks(t.get("content")))
        if t.get("role") == "assistant"
        else user_message(content_blocks(t.get("content")), query=False)
        for t in turns
    ]


async def seed(client: Client, frames: list[dict[str, Any]]) -> None:
    """Feed earlier turns (``history_frames``) into a connected client without any model call.

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


async def frames_of(*messages: dict[str, Any]) -> AsyncIterable[dict[str, Any]]:
    """Frames as the stream a client's ``query`` takes."""
    for message in messages:
        yield message


async def _pump(source: Callable[[], AsyncIterator[Message]], queue: asyncio.Queue[_Item]) -> None:
    try:
        async for message in source():
            queue.put_nowait(message)
    except Exception as error:  # handed to the consumer, which maps it
        queue.put_nowait(_Raised(error))
    else:
        queue.put_nowait(None)


# The running CLI process(es) of a turn, found when needed (it may end at any time).
Locate = Callable[[], list[int]]


async def _finish(task: asyncio.Task[None], locate: Locate | None, keep: bool) -> None:
    await _stop(task, None if keep and await _settles(task) else locate)


async def _settles(task: asyncio.Task[None]) -> bool:
    """After its result a turn ends by itself; give it a moment to."""
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=SETTLE_SECONDS)
    return task.done()


async def _stop(task: asyncio.Task[None], locate: Locate | None) -> None:
    if task.done():
        return
    if locate is not None:
        await stop(locate())  # the SDK's close would give the CLI seconds to finish its turn
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)


async def run_query(
    query: QueryFunction,
    blocks: list[dict[str, Any]],
    options: ClaudeAgentOptions,
    deadline: Deadline,
) -> AsyncGenerator[Message, None]:
    """SDK messages of one query; raises QueryTimeout when ``deadline`` passes.

    ``blocks`` is the new user turn.
    """
    prompt = frames_of(user_message(blocks))
    source = lambda: query(prompt=prompt, options=options)  # noqa: E731
    # After its result a one-shot process is of no further use: stop it at once. Its
    # pid is the SDK's own: it is found by its working directory, which is its alone.
    cwd = None if options.cwd is None else str(options.cwd)
    locate = None if cwd is None else lambda: children_in(cwd)
    async with aclosing(_drain(source, deadline, locate, keep=False)) as messages:
        async for message in messages:
            yield message


async def run_turn(
    client: Client,
    prompt: dict[str, Any],
    locate: Locate,
    deadline: Deadline,
    history: list[dict[str, Any]] | None = None,
) -> AsyncGenerator[Message, None]:
    """SDK messages of one turn on a connected ``ClaudeSDKClient``, up to its result.

    ``prompt`` is the new user turn's frame (``user_message``); ``history``
    (``history_frames``) is fed in first, under the same deadline. ``locate``
    finds the client's CLI process, to stop it when the turn ends early.
    """

    async def source() -> AsyncIterator[Message]:
        if history:
            await seed(client, history)
        await client.query(frames_of(prompt))
        async for message in client.receive_response():
            yield message

    async with aclosing(_drain(source, deadline, locate, keep=True)) as messages:
        async for message in messages:
            yield message


async def _drain(
    source: Callable[[], AsyncIterator[Message]], deadline: Deadline, locate: Locate | None, keep: bool
) -> AsyncGenerator[Message, None]:
    """Messages from ``source`` until ``deadline``; its process is stopped on any
    early exit, and after the result too unless ``keep`` (a session to reuse)."""
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    task = asyncio.create_task(_pump(source, queue))
    finished = False  # the turn's result has been passed on
    watch = ProcessWatch(locate)
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
        # Shielded: when the request is cancelled (client gone) its process must still be stopped.
        await asyncio.shield(_finish(task, locate, keep and finished))


class ProcessWatch:
    """Notices a CLI process that died without the SDK noticing.

    The SDK learns of the end of the CLI from its stdout closing; a process
    killed while something else still holds that pipe would leave the request
    waiting until its deadline. Once the request's process has been seen, its
    disappearance ends the turn as a crash.
    """

    def __init__(self, locate: Locate | None) -> None:
        self.locate = locate
        self.seen = False

    def gone(self) -> bool:
        if self.locate is None:
            return False
        running = bool(self.locate())
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
