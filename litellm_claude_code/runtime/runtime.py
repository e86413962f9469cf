"""The session runtime: the one owner of every Claude Code process (issue 11).

A Claude Code process costs far more to start than a turn on a running one
(``scripts/bench`` measures both), so processes are started ahead and kept:

* spare (``spares.Spares``): spawned for a deployment with a placeholder
  system prompt and nothing written to its stdin. A request takes it and
  initialises it with its own system prompt (the CLI takes it from the first
  ``initialize``, which our transport adds to the SDK's), tools and controls
  (``apply_flag_settings``);
* live (``live.Live``): the process that just answered a conversation, kept
  under exactly the conversation it now holds. The conversation's next
  request sends its new turn only;
* reused: an idle live process of plain chat that another conversation takes
  after ``rewind_conversation`` has emptied it and ``set_model`` has set the
  new system prompt (``prepare.Preparation``; measured: requests identical to
  a fresh process's).

``choose.Chooser`` picks the process for a request (its conversation's live
one, else the best candidate it can prepare, else one started for it), and
``Runtime`` here is the facade: it runs the turn, gives the process back (kept
or disposed of), and expires idle ones.

Earlier turns a process does not hold are fed into it without model calls
(``runner.seed``); only a very long history resumes a written transcript in a
process started for it. Every process is started, kept, and disposed of here
(``process.dispose``: the process, its working directory and its session
files go together), and every turn runs under the request's one deadline,
which covers waiting for a process, initialising it, feeding the history and
the answer. Anything unexpected from the CLI while preparing a process
(a rewind not confirmed, an error answer) discards that process, and the
request is served by a process started for it alone (fail closed).

The control requests used here (``rewind_conversation``, ``set_model`` with a
system prompt, ``apply_flag_settings``) are not wrapped by the Python SDK:
the SDK is pinned, and tests/unit/runtime/test_runtime.py fails on an upgrade
that changes what they rely on.
"""

from __future__ import annotations

import asyncio
import atexit
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

import claude_agent_sdk as sdk

from ..request import ChatRequest
from . import sessions
from .choose import Chooser
from .live import Live, combination, turn_digests
from .options import build_options
from .prepare import Attach, Connect, Control, Preparation
from .process import (
    ControlError,
    Process,
    Spec,
    abandon,
    attach,
    connect,
    control,
    dispose,
    forget_transcript,
    log_stderr,
    rss_mib,
    spawn,
)
from .protocols import QueryFunction
from .replay import ReplayServer
from .runner import Deadline, run_query, run_turn, user_message
from .spares import Spares, cpu_busy, spare_spec
from .workspace import request_workspace

__all__ = ["ControlError", "Process", "Runtime", "Spec", "one_shot", "seeded_once"]

REAP_INTERVAL_SECONDS = 5.0

T = TypeVar("T")
# The assistant turn a process holds after a turn (translate.stream.Outcome.held), or None.
Held = list[dict[str, Any]] | None


class Runtime:
    """Every Claude Code process of one event loop: spares, live and busy ones."""

    def __init__(
        self,
        spawn: Callable[[Spec], Awaitable[Process]] = spawn,
        attach: Attach = attach,
        connect: Connect = connect,
        control: Control = control,
        clock: Callable[[], float] = time.monotonic,
        rss: Callable[[Process], float] = rss_mib,
        spares: bool = True,
        busy: Callable[[], Awaitable[float]] = cpu_busy,
        replay: bool = True,
    ) -> None:
        """``spares=False``: no process is started ahead (one-off use); ``replay=False``: a
        history's first answer is fed, never replayed (``replay``)."""
        # Processes belong to the event loop that started them (the proxy has
        # one for its whole life; a library caller's asyncio.run gets its own).
        self.loop = asyncio.get_running_loop()
        self.stats: Counter[str] = Counter()
        self._clock, self._keeps_spares = clock, spares
        self._background = Background()
        self._spares = Spares(spawn, clock, busy, self.stats, on_ready=self._start_reaper)
        self._live = Live(clock, rss, discard=lambda process: self._background.spawn(self.dispose(process)))
        self._replay = ReplayServer() if replay else None
        preparation = Preparation(attach, connect, control, clock, self.stats, self._replay)
        self._chooser = Chooser(self._live, self._spares, preparation, self.dispose, self.stats)
        atexit.register(self.abandon)

    async def run(self, request: ChatRequest, reply: Callable[[], Held]) -> AsyncGenerator[sdk.Message, None]:
        """The SDK messages of the request's turn on a process of this runtime.

        ``reply`` tells, once the turn is over, the assistant turn when the
        process now holds exactly what the client was sent (the translator's
        ``Outcome.held``); otherwise the process is disposed of.
        """
        deadline = Deadline.after(request.timeout)
        spec = spare_spec(request)
        self._live.begin(spec.key)
        process: Process | None = None
        try:
            taken, history = await _within(deadline, self._chooser.take(request, spec))
            process = taken
            prompt = user_message(request.conversation.prompt)
            taken.start_turn(history, prompt)
            assert taken.client is not None, "a taken process is connected"
            turn = run_turn(taken.client, prompt, taken.pids, deadline, history)
            async with aclosing(turn) as messages:
                async for message in messages:
                    yield message
        finally:
            self._live.end(spec.key)
            if process is not None:
                # Shielded: a client that went away cancels this task, and the
                # process must be kept or go all the same.
                await asyncio.shield(self._give_back(request, spec, process, reply()))

    async def _give_back(self, request: ChatRequest, spec: Spec, process: Process, reply: Held) -> None:
        if self._keeps_spares:
            self._spares.replenish(spec, request.settings.pool_size)
        held = request.held_turns(reply) if reply is not None else []
        process.marks.append(None)  # the assistant turn
        if reply is None or len(process.marks) != len(held) or self._live.retired(process):
            await self.dispose(process)
            return
        forget_transcript(process)
        process.combination, process.turns = combination(request), turn_digests(held)
        self._live.keep(process, spec, request.settings)
        self._start_reaper()

    async def prewarm(self, request: ChatRequest, count: int) -> None:
        """Start ``count`` spares for the request's deployment and wait until they run."""
        await self._spares.prewarm(spare_spec(request), count)

    async def dispose(self, process: Process) -> None:
        """Stop the process at once and remove its directory and session files."""
        await dispose(process)

    def expire(self) -> int:
        """Dispose of every idle process unused for longer than its idle timeout."""
        now = self._clock()
        stale = [p for p in self.idle() if now - p.last_used > p.idle_timeout]
        for process in stale:
            self._forget(process)
            self._background.spawn(self.dispose(process))
        return len(stale)

    def counts(self) -> dict[str, int]:
        """Processes by state, for metrics."""
        return {"busy": self._live.busy(), "idle": len(self._live.processes()), **self._spares.counts()}

    def idle(self) -> list[Process]:
        return [*self._spares.ready(), *self._live.processes()]

    async def settled(self) -> None:
        """Wait until the background work started so far is done: spare starts and disposals."""
        await self._spares.settled()
        await self._background.settled()

    def _forget(self, process: Process) -> None:
        self._spares.forget(process)
        self._live.forget(process)

    def _start_reaper(self) -> None:
        self._background.ensure_running(self._reap)

    async def _reap(self) -> None:
        while self.idle():
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            self.expire()

    async def close(self) -> None:
        """Dispose of every idle and starting process (tests, shutdown)."""
        for task in self._spares.starting():
            task.cancel()
        for process in self.idle():
            self._forget(process)
            await self.dispose(process)
        if self._replay is not None:
            await self._replay.close()

    def abandon(self) -> None:
        """Kill every idle process without its event loop (gone, or exiting)."""
        for process in self.idle():
            self._forget(process)
            abandon(process)


class Background:
    """The tasks a runtime starts and does not wait for: disposals, and the reaper of idle processes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[None]] = set()
        self._long: asyncio.Future[None] | None = None

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # held: the loop keeps only weak references to its tasks
        task.add_done_callback(self._tasks.discard)

    def ensure_running(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` unless it runs already (it ends by itself when nothing is left for it)."""
        if self._long is None or self._long.done():
            self._long = asyncio.ensure_future(work())

    async def settled(self) -> None:
        """Wait until the tasks spawned so far are done (the long-running one aside)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


async def _within(deadline: Deadline, work: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout_at(deadline.at):
            return await work
    except TimeoutError:
        raise deadline.passed() from None


async def one_shot(query: QueryFunction, request: ChatRequest) -> AsyncGenerator[sdk.Message, None]:
    """A process for this request only (``query()``), in a directory removed afterwards.

    For callers without a long-lived event loop, and for JSON output (whose
    ``--json-schema`` and turn limit are fixed when a process starts).
    """
    deadline = Deadline.after(request.timeout)
    with request_workspace(request.config_dir, request.settings.work_root) as cwd:
        resume = sessions.write_history(request.transcript_turns(), request.config_dir, cwd)
        options = build_options(request.plan(cwd, resume), request.settings, stderr=log_stderr)
        async with aclosing(run_query(query, request.conversation.prompt, options, deadline)) as messages:
            async for message in messages:
                yield message


async def seeded_once(request: ChatRequest) -> AsyncGenerator[sdk.Message, None]:
    """Tool results without a long-lived loop: a process started for them, the history fed in."""
    runtime = Runtime(spares=False)
    try:
        async with aclosing(runtime.run(request, lambda: None)) as messages:
            async for message in messages:
                yield message
    finally:
        await runtime.close()
        atexit.unregister(runtime.abandon)
