"""per_loop: one runtime per event loop, the previous loop's abandoned; its counters for metrics."""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Callable

import pytest

from litellm_claude_code.runtime import per_loop, runtime
from litellm_claude_code.runtime.per_loop import PerLoop
from litellm_claude_code.runtime.runtime import Runtime


class AbandonCounting(Runtime):
    """A real runtime (no spares, so it starts nothing) that counts how often it was abandoned."""

    def __init__(self) -> None:
        super().__init__(spares=False, replay=False)
        self.abandoned = 0

    def abandon(self) -> None:
        self.abandoned += 1
        super().abandon()


class Made:
    """The runtimes a PerLoop made, in order."""

    def __init__(self) -> None:
        self.runtimes: list[AbandonCounting] = []

    def __call__(self) -> Runtime:
        runtime = AbandonCounting()
        self.runtimes.append(runtime)
        return runtime


def test_one_loop_gets_one_runtime_however_often_it_asks() -> None:
    made = Made()
    runtimes = PerLoop(made)

    async def ask_three_times() -> list[Runtime]:
        first = runtimes.get()
        await asyncio.sleep(0)  # the same loop after a turn of it, not only the same call stack
        return [first, runtimes.get(), runtimes.get()]

    got = asyncio.run(ask_three_times())
    assert len(made.runtimes) == 1
    assert got == [made.runtimes[0]] * 3
    assert made.runtimes[0].abandoned == 0
    atexit.unregister(made.runtimes[0].abandon)


class ExitCallbacks:
    """The interpreter's exit callbacks as the runtime modules use them (``atexit`` keeps no
    readable list: its ``_ncallbacks`` still counts an unregistered one)."""

    def __init__(self) -> None:
        self.registered: list[Callable[[], None]] = []

    def register(self, callback: Callable[[], None]) -> None:
        self.registered.append(callback)

    def unregister(self, callback: Callable[[], None]) -> None:
        self.registered = [c for c in self.registered if c != callback]


def test_a_new_loop_gets_a_new_runtime_and_the_previous_loops_is_abandoned_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A library caller's ``asyncio.run`` per call: each loop's processes belong to that loop alone."""
    exits = ExitCallbacks()
    monkeypatch.setattr(runtime, "atexit", exits)
    monkeypatch.setattr(per_loop, "atexit", exits)
    made = Made()
    runtimes = PerLoop(made)

    async def get() -> Runtime:
        return runtimes.get()

    first = asyncio.run(get())
    assert exits.registered == [first.abandon]  # a runtime abandons its processes at exit
    second = asyncio.run(get())
    assert [first, second] == made.runtimes
    assert second.loop is not first.loop
    assert [one.abandoned for one in made.runtimes] == [1, 0]
    # the abandoned runtime is no longer called (nor kept alive) at exit: the current runtime is
    assert exits.registered == [second.abandon]
    third = asyncio.run(get())
    assert [one.abandoned for one in made.runtimes] == [1, 1, 0]
    assert exits.registered == [third.abandon]


def test_counts_and_events_are_the_latest_loops_runtimes_and_empty_before_any() -> None:
    made = Made()
    runtimes = PerLoop(made)
    assert runtimes.counts() == {}
    assert runtimes.stats() == {}

    async def serve(event: str) -> None:
        runtimes.get().stats[event] += 1

    asyncio.run(serve("cold"))
    assert runtimes.counts() == made.runtimes[0].counts()
    assert runtimes.stats() == {"cold": 1}
    asyncio.run(serve("spare"))
    assert runtimes.stats() == {"spare": 1}  # the new loop's runtime: the old one's events went with it
    made.runtimes[1].stats["live"] += 1
    assert runtimes.stats() == {"spare": 1, "live": 1}  # read when asked (a scrape), not when the loop began
    atexit.unregister(made.runtimes[1].abandon)
