"""sync: the sync entry points' event loops; items as they arrive, an early close reaching the async side."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncGenerator

import pytest

from litellm_claude_code import sync


def test_items_arrive_one_by_one_while_the_source_is_still_producing() -> None:
    released = threading.Event()

    async def source() -> AsyncGenerator[int, None]:
        yield 1
        # the second item waits for the caller to have seen the first (-1: it never did, in 5 s)
        yield 2 if await asyncio.to_thread(released.wait, 5) else -1

    items = sync.stream_sync(source)
    assert next(items) == 1  # a buffering bridge gets here only after the source ended
    released.set()
    assert list(items) == [2]


def test_closing_early_closes_the_source_at_its_yield() -> None:
    closed = threading.Event()

    async def source() -> AsyncGenerator[int, None]:
        try:
            for index in range(100):
                yield index
        finally:
            closed.set()

    items = sync.stream_sync(source)
    assert next(items) == 0
    items.close()
    assert closed.is_set()


def test_closing_while_an_item_is_awaited_cancels_the_wait() -> None:
    cancelled = threading.Event()
    waiting = threading.Event()
    pending: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []  # the item awaited, once awaited

    async def source() -> AsyncGenerator[int, None]:
        yield 0
        try:
            item: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            pending.append((asyncio.get_running_loop(), item))
            waiting.set()
            await item  # an item that never comes: only the close (or this test giving up) ends the wait
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield 1

    pump = sync._Pump(source, contextvars.copy_context())
    pump.start()
    assert pump.next() == ("item", 0)
    got: list[tuple[str, object]] = []
    waiter = threading.Thread(target=lambda: got.append(pump.next()))
    waiter.start()
    # as the sync generator's ``finally`` does when the caller gives up; in a thread of its own so
    # that a close that does not end the wait fails this test instead of hanging it
    closer = threading.Thread(target=pump.close)
    try:
        assert waiting.wait(5)
        closer.start()
        closer.join(5)
        assert not closer.is_alive(), "closing did not end the wait for the next item"
        waiter.join(5)
        assert cancelled.is_set()
        assert [kind for kind, _ in got] == ["error"]  # the waiting side is woken, not left hanging
    finally:
        if closer.is_alive():  # a close that failed: the item comes after all, so the source ends
            for loop, item in pending:
                loop.call_soon_threadsafe(item.set_result, None)
            closer.join(5)
        waiter.join(5)


def test_errors_reach_the_caller_as_raised() -> None:
    async def source() -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("from the async side")

    items = sync.stream_sync(source)
    assert next(items) == 1
    with pytest.raises(ValueError, match="from the async side"):
        next(items)


def test_run_sync_works_inside_a_running_loop_and_without_pooling() -> None:
    async def inner() -> bool:
        return sync.pooling_allowed()

    async def caller() -> bool:
        result: bool = sync.run_sync(inner)  # called from async code, as a library caller may
        return result

    assert sync.pooling_allowed()
    assert asyncio.run(caller()) is False  # kept processes belong to a long-lived loop, not this one
    assert sync.run_sync(inner) is False
