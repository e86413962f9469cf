"""Sync entry points over async ones: each call in an event loop of its own.

LiteLLM's sync ``completion``/``streaming`` of a custom provider run here
(``run_sync``, ``stream_sync``), in a thread when the caller is itself inside a
running loop. Kept processes belong to the loop that started them (the proxy's),
so calls bridged here run cold (``pooling_allowed``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import queue
import threading
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import aclosing
from typing import Any

# Kept processes live in the event loop that started them; the sync entry
# points run each call in a loop of its own (asyncio.run), so they run cold.
_POOLING: contextvars.ContextVar[bool] = contextvars.ContextVar("claude_code_pooling", default=True)


def pooling_allowed() -> bool:
    """False inside a call bridged here: its loop ends with the call."""
    return _POOLING.get()


def run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    token = _POOLING.set(False)
    try:
        return _run_in_new_loop(make)
    finally:
        _POOLING.reset(token)


class _Pump:
    """An async iterator driven from another thread: each item on demand, in a loop of its own.

    The iterator runs in a thread's own event loop (``asyncio.run``), one item
    per request from the sync side, so it sits at a ``yield`` whenever the
    caller holds an item: closing then closes it there (``aclose``), as LiteLLM
    closes ``astreaming`` when a client goes away. Closing while an item is
    being waited for cancels that wait.
    """

    def __init__(self, make: Callable[[], AsyncIterator[Any]], context: contextvars.Context) -> None:
        self._make = make
        self._results: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wants: asyncio.Queue[bool] | None = None
        self._step: asyncio.Future[Any] | None = None
        self._thread = threading.Thread(target=context.run, args=(asyncio.run, self._serve()), daemon=True)
        self._thread.name = "claude-code-sync-stream"

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        wants = self._wants = asyncio.Queue()
        self._ready.set()
        try:
            iterator = self._make()
            async with aclosing(iterator):  # type: ignore[type-var]  # astreaming is an async generator, typed as the AsyncIterator LiteLLM expects
                while await wants.get():
                    self._step = asyncio.ensure_future(iterator.__anext__())
                    try:
                        item = await self._step
                    except StopAsyncIteration:
                        self._results.put(("done", None))
                        return
                    self._results.put(("item", item))
        except BaseException as error:  # the caller's to handle, on its own thread (or a cancelled wait)
            self._results.put(("error", error))
        else:
            self._results.put(("done", None))

    def next(self) -> tuple[str, Any]:
        """The next item, the end, or the error the iterator raised."""
        loop, wants = self._loop, self._wants
        assert loop is not None
        assert wants is not None
        loop.call_soon_threadsafe(wants.put_nowait, True)
        return self._results.get()

    def close(self) -> None:
        """Stop the iterator (closed at its ``yield``, or its pending step cancelled) and end the thread."""

        def stop() -> None:
            assert self._wants is not None
            self._wants.put_nowait(False)
            if self._step is not None and not self._step.done():
                self._step.cancel()

        if self._thread.is_alive() and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already: nothing is left to stop
                self._loop.call_soon_threadsafe(stop)
        self._thread.join()


def stream_sync(make: Callable[[], AsyncIterator[Any]]) -> Generator[Any, None, None]:
    """The items of an async iterator, yielded to sync code as they arrive (see ``_Pump``)."""
    context = contextvars.copy_context()
    context.run(_POOLING.set, False)  # kept processes belong to the proxy's loop, not this thread's
    pump = _Pump(make, context)
    pump.start()
    try:
        while True:
            kind, value = pump.next()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        pump.close()


def _run_in_new_loop(make: Callable[[], Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(make())
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, lambda: asyncio.run(make())).result()
