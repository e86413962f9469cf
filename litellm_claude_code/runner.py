"""Running one Claude Code query with a deadline, and stopping it for sure.

The SDK's ``query()`` owns an anyio task group and a CLI process; it must be
closed by the task that opened it. So it runs in a task of its own that feeds a
queue, and the consumer (the request) reads the queue under the request's
deadline. When the deadline passes, an error is raised, or the client goes away,
the consumer cancels that task, and the SDK's own cleanup ends the CLI process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from .processes import stop_processes

QueryFunction = Callable[..., AsyncIterator[Any]]

STOP_GRACE_SECONDS = 5.0  # how long cleanup may take before we stop waiting for it


class QueryTimeout(Exception):
    """The request's deadline passed before Claude Code finished."""


@dataclass(frozen=True)
class _Raised:
    error: BaseException


_DONE = object()


def user_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A streamed user message: content blocks (text, images) as Claude gets them."""
    return {
        "type": "user",
        "message": {"role": "user", "content": blocks},
        "parent_tool_use_id": None,
    }


async def _messages(*messages: dict[str, Any]) -> AsyncIterable[dict[str, Any]]:
    for message in messages:
        yield message


async def _pump(query: QueryFunction, prompt: Any, options: Any, queue: asyncio.Queue[Any]) -> None:
    try:
        async for message in query(prompt=prompt, options=options):
            queue.put_nowait(message)
    except Exception as error:  # handed to the consumer, which maps it
        queue.put_nowait(_Raised(error))
    else:
        queue.put_nowait(_DONE)


async def _stop(task: asyncio.Task[None], cwd: str | None) -> None:
    if task.done():
        return
    if cwd:
        await stop_processes(cwd)  # the SDK's close would give the CLI seconds to finish its turn
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)


async def run_query(
    query: QueryFunction,
    blocks: list[dict[str, Any]] | None,
    options: Any,
    timeout: float,
) -> AsyncGenerator[Any, None]:
    """SDK messages of one query; raises QueryTimeout when ``timeout`` passes.

    ``blocks`` is the new user turn; None sends no prompt, for a resumed
    session whose last turn is already in its transcript.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    queue: asyncio.Queue[Any] = asyncio.Queue()
    prompt = _messages(user_message(blocks)) if blocks is not None else _messages()
    task = asyncio.create_task(_pump(query, prompt, options, queue))
    try:
        while True:
            item = await _next(queue, deadline - loop.time())
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        await _stop(task, getattr(options, "cwd", None))


async def _next(queue: asyncio.Queue[Any], remaining: float) -> Any:
    if remaining <= 0:
        raise QueryTimeout
    try:
        return await asyncio.wait_for(queue.get(), remaining)
    except TimeoutError:
        raise QueryTimeout from None
