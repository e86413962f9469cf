"""Spares: started ahead, one background start at a time, deferred while the CPU is busy, claimable."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.runtime import spares as spares_module
from litellm_claude_code.runtime.process import Process, Spec
from litellm_claude_code.runtime.spares import Spares

from .fakes import saturated_cpu

SPEC = Spec("k", "/cfg", None, 300.0, lambda cwd: sdk.ClaudeAgentOptions(cwd=cwd))


class Starts:
    """A spawn that records how many starts run at once; the first ``held`` (all by default) wait for
    ``release`` when given."""

    def __init__(
        self, tmp_path: Path, release: asyncio.Event | None = None, fail: bool = False, held: int | None = None
    ) -> None:
        self.tmp_path, self.release, self.fail, self.held = tmp_path, release, fail, held
        self.running = self.most = self.count = 0

    async def __call__(self, spec: Spec) -> Process:
        self.count += 1
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0)  # a start is never instant: others may run meanwhile
            if self.release is not None and (self.held is None or self.count <= self.held):
                await self.release.wait()
            if self.fail:
                raise OSError("no such CLI")
            return Process(str(self.tmp_path / f"p{self.count}"), "/cfg", spec.key, 0.0)
        finally:
            self.running -= 1


async def idle_cpu() -> float:
    return 0.0


def make(spawn: Starts, busy: Callable[[], Awaitable[float]] = idle_cpu) -> tuple[Spares, Counter[str], list[None]]:
    stats: Counter[str] = Counter()
    ready: list[None] = []
    return Spares(spawn, lambda: 7.0, busy, stats, lambda: ready.append(None)), stats, ready


async def _until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Let the loop run until ``condition`` holds (a bounded number of turns: a failure, not a hang)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def test_replenish_keeps_pool_size_starting_or_ready_and_no_more(tmp_path: Path) -> None:
    async def scenario() -> None:
        starts = Starts(tmp_path)
        spares, stats, ready = make(starts)
        spares.replenish(SPEC, 2)
        spares.replenish(SPEC, 2)  # two are starting already
        assert spares.counts() == {"spare": 0, "starting": 2}
        await spares.settled()
        spares.replenish(SPEC, 2)  # two are ready
        assert starts.count == 2
        assert spares.counts() == {"spare": 2, "starting": 0}
        assert stats["started"] == 2
        assert len(ready) == 2
        assert [p.last_used for p in spares.ready()] == [7.0, 7.0]

    asyncio.run(scenario())


def test_background_starts_run_one_at_a_time_and_prewarm_does_not_wait_for_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        starts = Starts(tmp_path, release, held=1)  # the first background start hangs until released
        spares, _, _ = make(starts)
        spares.replenish(SPEC, 3)
        await _until(lambda: starts.running == 1)
        await spares.prewarm(SPEC, 2)  # returns with the background starts still under way
        assert spares.counts() == {"spare": 2, "starting": 3}
        assert (starts.count, starts.most) == (3, 3)  # the held background start and the two prewarmed
        release.set()
        await spares.settled()
        assert starts.count == 5
        assert starts.most == 3  # the other two background starts ran one at a time, after the first

    asyncio.run(scenario())


def test_a_background_start_is_deferred_while_the_cpu_is_busy_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spares_module, "BUSY_WAIT_SECONDS", 0.05)

    async def scenario() -> tuple[int, int, float]:
        starts = Starts(tmp_path)
        spares, stats, _ = make(starts, busy=saturated_cpu)
        started = asyncio.get_running_loop().time()
        spares.replenish(SPEC, 1)
        await spares.settled()
        return starts.count, stats["deferred"], asyncio.get_running_loop().time() - started

    count, deferred, waited = asyncio.run(scenario())
    assert count == 1  # started all the same once the bound passed
    assert deferred >= 1
    assert waited >= 0.05


def test_a_claimed_start_belongs_to_its_claimer_and_an_unclaimed_one_becomes_a_spare(tmp_path: Path) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        starts = Starts(tmp_path, release)
        spares, _, _ = make(starts)
        spares.replenish(SPEC, 1)
        await _until(lambda: starts.running == 1)
        claimed = spares.claim_starting("k")
        assert claimed is not None
        assert spares.claim_starting("k") is None
        release.set()
        await asyncio.wait({claimed})
        await spares.settled()
        assert spares.ready() == []  # not filed: it is its claimer's
        spares.unclaim("k", claimed)
        assert spares.take("k") is claimed.result()
        assert spares.take("k") is None

    asyncio.run(scenario())


def test_a_start_still_waiting_its_turn_is_not_claimed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request never waits behind queued background starts and a busy CPU: it starts its own."""
    monkeypatch.setattr(spares_module, "BUSY_WAIT_SECONDS", 60.0)
    cpu = {"busy": 1.0}

    async def busy() -> float:
        await asyncio.sleep(0)
        return cpu["busy"]

    async def scenario() -> None:
        release = asyncio.Event()
        starts = Starts(tmp_path, release)
        spares, stats, _ = make(starts, busy=busy)
        spares.replenish(SPEC, 2)
        await _until(lambda: stats["deferred"] >= 3)
        assert spares.claim_starting("k") is None  # both wait: the first for the CPU, the second its turn
        assert spares.counts() == {"spare": 0, "starting": 2}  # still the deployment's spares to be
        cpu["busy"] = 0.0
        await _until(lambda: starts.running == 1)
        first = spares.claim_starting("k")
        assert first is not None
        assert spares.claim_starting("k") is None  # the second waits for the first's start to end
        release.set()
        await spares.settled()
        assert starts.count == 2
        assert len(spares.ready()) == 1

    asyncio.run(scenario())


def test_a_start_given_back_before_it_is_up_is_filed_when_it_is(tmp_path: Path) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        starts = Starts(tmp_path, release)
        spares, _, _ = make(starts)
        spares.replenish(SPEC, 1)
        await _until(lambda: starts.running == 1)
        task = spares.claim_starting("k")
        assert task is not None
        spares.unclaim("k", task)
        assert spares.counts() == {"spare": 0, "starting": 1}
        release.set()
        await spares.settled()
        assert spares.take("k") is task.result()

    asyncio.run(scenario())


def test_a_failed_start_leaves_no_spare(tmp_path: Path) -> None:
    async def scenario() -> None:
        spares, stats, ready = make(Starts(tmp_path, fail=True))
        spares.replenish(SPEC, 1)
        await spares.settled()
        assert spares.counts() == {"spare": 0, "starting": 0}
        assert stats["started"] == 0
        assert ready == []

    asyncio.run(scenario())


def test_forget_removes_a_ready_spare(tmp_path: Path) -> None:
    async def scenario() -> None:
        spares, _, _ = make(Starts(tmp_path))
        await spares.prewarm(SPEC, 2)
        first, second = spares.ready()
        spares.forget(first)
        assert spares.ready() == [second]

    asyncio.run(scenario())
