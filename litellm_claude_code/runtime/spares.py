"""Spares: Claude Code processes started ahead for a deployment, nothing written to them yet.

A process start costs far more CPU than a turn on a running one (measured by
``scripts/bench``), so starts happen off the request path: in the background,
one at a time, and deferred while the CPU is busy with requests. A request may
wait for a start whose process is already starting, never for one still
waiting its turn: those queue behind each other and the busy CPU, and under
load a request that waited for the last of them waited over 120 s (the
disconnect storm with the CPU saturated, 2026-12-02).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable

import claude_agent_sdk as sdk

from ..request import ChatRequest
from . import pids
from .keys import spare_key
from .options import build_options, log_stderr, spare_plan
from .process import Process, Spec

logger = logging.getLogger(__name__)

# A spare's system prompt until a request's replaces it at initialize.
PLACEHOLDER_SYSTEM_PROMPT = "You are a helpful assistant."
# A background start waits while the CPU is this busy (requests come first), up to the bound.
BUSY_CPU = 0.85
BUSY_WAIT_SECONDS = 10.0


def spare_spec(request: ChatRequest) -> Spec:
    """How to start a spare for the request's deployment (its key: what such a spare can serve)."""
    settings = request.settings

    def options(cwd: str) -> sdk.ClaudeAgentOptions:
        return build_options(spare_plan(request, cwd, PLACEHOLDER_SYSTEM_PROMPT), settings, stderr=log_stderr)

    return Spec(spare_key(request), request.config_dir, settings.work_root, settings.idle_timeout, options)


class Spares:
    """Spares per deployment key: ready ones, and those still starting (claimable by a request)."""

    def __init__(
        self,
        spawn: Callable[[Spec], Awaitable[Process]],
        clock: Callable[[], float],
        busy: Callable[[], Awaitable[float]],
        stats: Counter[str],
        on_ready: Callable[[], None],
    ) -> None:
        """``on_ready`` is called each time a spare is filed as ready."""
        self._spawn, self._clock, self._cpu_busy = spawn, clock, busy
        self._stats, self._on_ready = stats, on_ready
        self._ready: dict[Hashable, deque[Process]] = {}
        self._starting: dict[Hashable, list[asyncio.Task[Process]]] = {}
        self._spawning: set[asyncio.Future[Process]] = set()  # starts past their turn: the process is starting
        self._background = asyncio.Semaphore(1)  # one background start at a time

    async def prewarm(self, spec: Spec, count: int) -> None:
        """Start ``count`` spares now (not deferred) and wait until they run."""
        tasks = [self._start(spec, background=False) for _ in range(count)]
        await asyncio.gather(*(asyncio.shield(task) for task in tasks), return_exceptions=True)

    def replenish(self, spec: Spec, pool_size: int) -> None:
        """Keep ``pool_size`` spares of the key starting or ready, started in the background."""
        have = len(self._ready.get(spec.key, ())) + len(self._starting.get(spec.key, ()))
        for _ in range(max(0, pool_size - have)):
            self._start(spec, background=True)

    def take(self, key: Hashable) -> Process | None:
        """A ready spare of the key, the longest ready first."""
        ready = self._ready.get(key)
        return ready.popleft() if ready else None

    def claim_starting(self, key: Hashable) -> asyncio.Task[Process] | None:
        """A start of the key whose process is starting, now the caller's: it is not filed as ready when done.

        None when every start of the key still waits its turn (then the caller starts its own).
        """
        starting = self._starting.get(key, [])
        task = next((task for task in starting if task in self._spawning), None)
        if task is not None:
            starting.remove(task)
        return task

    def unclaim(self, key: Hashable, task: asyncio.Task[Process]) -> None:
        """Give a claimed start back: the spare it starts becomes a ready one."""
        if not task.done():
            self._starting.setdefault(key, []).append(task)  # _started files it when it is up
        elif not task.cancelled() and task.exception() is None:
            self._file(key, task.result())

    def ready(self) -> list[Process]:
        return [process for ready in self._ready.values() for process in ready]

    def starting(self) -> list[asyncio.Task[Process]]:
        return [task for tasks in self._starting.values() for task in tasks]

    def counts(self) -> dict[str, int]:
        return {"spare": len(self.ready()), "starting": len(self.starting())}

    def forget(self, process: Process) -> None:
        for ready in self._ready.values():
            if process in ready:
                ready.remove(process)

    async def settled(self) -> None:
        """Wait until every start under way has ended (started, failed or cancelled)."""
        while tasks := self.starting():
            await asyncio.wait(tasks)

    def _start(self, spec: Spec, background: bool) -> asyncio.Task[Process]:
        task = asyncio.ensure_future(self._spawn_spare(spec, background))
        self._starting.setdefault(spec.key, []).append(task)
        task.add_done_callback(lambda done: self._started(spec, done))
        return task

    async def _spawn_spare(self, spec: Spec, background: bool) -> Process:
        if not background:
            return await self._spawn_now(spec)
        async with self._background:  # background starts never run two at a time
            await self._while_cpu_is_busy()
            return await self._spawn_now(spec)

    async def _spawn_now(self, spec: Spec) -> Process:
        task = asyncio.current_task()
        assert task is not None, "_start runs every start as a task"
        self._spawning.add(task)  # claimable from here on: _started forgets it
        return await self._spawn(spec)

    async def _while_cpu_is_busy(self) -> None:
        """Let requests have a saturated CPU: a start waits, within a bound."""
        deadline = asyncio.get_running_loop().time() + BUSY_WAIT_SECONDS
        while asyncio.get_running_loop().time() < deadline and await self._cpu_busy() > BUSY_CPU:
            self._stats["deferred"] += 1

    def _started(self, spec: Spec, task: asyncio.Task[Process]) -> None:
        self._spawning.discard(task)
        starting = self._starting.get(spec.key, [])
        if task not in starting:
            return  # claimed by a request, which owns the process now
        starting.remove(task)
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                logger.warning("could not start a spare Claude Code process: %s", task.exception())
            return
        self._stats["started"] += 1
        self._file(spec.key, task.result())

    def _file(self, key: Hashable, process: Process) -> None:
        process.last_used = self._clock()
        self._ready.setdefault(key, deque()).append(process)
        self._on_ready()


async def cpu_busy(window: float = 0.1) -> float:
    """The machine's busy CPU share over ``window`` seconds (0 where /proc/stat is unreadable)."""
    try:
        total, idle = pids.cpu_ticks()
        await asyncio.sleep(window)
        total2, idle2 = pids.cpu_ticks()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle2 - idle) / max(1, total2 - total)
