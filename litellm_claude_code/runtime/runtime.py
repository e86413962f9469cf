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
one, else the best candidate it can prepare, else one started for it; JSON
output, web search and a runtime that keeps nothing always get one started for
the request alone), and ``Runtime`` here is the facade: it lends a request a
turn on that process (``turn``), takes it back (kept, or closed), and expires
idle ones.

Earlier turns a process does not hold are fed into it without model calls
(``runner.seed``); only a very long history resumes a written transcript in a
process started for it. Every process is started and closed through the
runtime's one registry (``process.Processes``), which holds busy processes
too, so ``close`` reaches all of them; a process's ``aclose`` stops it and
removes its session files together. Every turn runs under the request's one deadline,
which covers waiting for a process, initialising it, feeding the history and
the answer. Anything unexpected from the CLI while preparing a process
(a rewind not confirmed, an error answer) discards that process, and the
request is served by a process started for it alone (fail closed).

The control requests used here (``rewind_conversation``, ``set_model`` with a
system prompt, ``apply_flag_settings``) are not wrapped by the Python SDK:
they and the rest of the SDK's private surface are in ``sdk_seam``, which
``tests/unit/test_sdk_seam.py`` pins.
"""

from __future__ import annotations

import asyncio
import atexit
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import aclosing, asynccontextmanager
from typing import Any, TypeVar

import claude_agent_sdk as sdk

from ..request import ChatRequest
from ..sdk_seam import Seam
from ..translate.search import Kept
from .choose import Chooser
from .forwarder import Forwarder
from .frames import user_message
from .keys import asked_turns, combination, held_digests, poolable, turn_digests
from .live import Live
from .prepare import Preparation
from .process import Process, Processes, Spec
from .replay import ReplayServer
from .runner import Deadline, Ending, run_turn
from .spares import Spares, cpu_busy, spare_spec

__all__ = ["Lease", "Runtime"]

REAP_INTERVAL_SECONDS = 5.0

T = TypeVar("T")
# The assistant turn a process holds after a turn (translate.stream.Outcome.held), or None.
Held = list[dict[str, Any]] | None


class Lease:
    """One request's turn on the process the runtime chose for it.

    ``messages`` runs the turn; ``hold`` says, once the answer is over, the
    assistant turn when the process now holds exactly what the client was sent
    (the translator's ``Outcome.held``). Without it the process is closed.
    """

    def __init__(
        self,
        request: ChatRequest,
        deadline: Deadline,
        process: Process,
        history: list[dict[str, Any]],
        asked: list[str],
    ):
        self.request, self.process, self.asked = request, process, asked
        self._deadline, self._history = deadline, history
        self.ending = Ending()
        self.reply: Held = None

    def hold(self, reply: Held) -> None:
        self.reply = reply

    def searches(self) -> Kept | None:
        """The API's answers to the turn's search requests so far, as the search forwarder kept them;
        None when the process talks to its API directly."""
        return self.process.route

    async def messages(self) -> AsyncGenerator[sdk.Message, None]:
        """The SDK messages of the request's turn: earlier turns it lacks are fed first."""
        process = self.process
        prompt = user_message(self.request.conversation.prompt)
        process.start_turn(self._history, prompt)
        assert process.client is not None, "a taken process is connected"
        turn = run_turn(process.client, prompt, process.alive, self._deadline, self._history, self.ending)
        async with aclosing(turn) as messages:
            async for message in messages:
                yield message


class Runtime:
    """Every Claude Code process of one event loop: spares, live, busy and one-shot ones."""

    def __init__(
        self,
        seam: Seam | None = None,
        clock: Callable[[], float] = time.monotonic,
        rss: Callable[[Process], float] = Process.rss_mib,
        spares: bool = True,
        busy: Callable[[], Awaitable[float]] = cpu_busy,
        replay: bool = True,
        keep: bool = True,
        forwarder: Forwarder | None = None,
    ) -> None:
        """``seam``: how processes start and are talked to (the SDK's, or fakes); ``spares=False``: no
        process is started ahead; ``keep=False``: every request gets a process of its own, closed
        after its turn (callers without a long-lived event loop); ``replay=False``: a history's
        first answer is fed, never replayed (``replay``); ``forwarder``: what searched requests' processes
        reach their API through (``forwarder.Forwarder``, started on the first search)."""
        # Processes belong to the event loop that started them (the proxy has
        # one for its whole life; a library caller's asyncio.run gets its own).
        self.loop = asyncio.get_running_loop()
        self.stats: Counter[str] = Counter()
        self._clock, self._keeps_spares, self._keeps = clock, spares and keep, keep
        self._processes = Processes(seam, clock)
        self._background = Background()
        self._spares = Spares(self._processes.spawn, clock, busy, self.stats, on_ready=self._start_reaper)
        self._live = Live(clock, rss, discard=lambda process: self._background.spawn(self._processes.close(process)))
        self._replay = ReplayServer() if replay else None
        self._forwarder = forwarder or Forwarder()
        preparation = Preparation(self._processes, self.stats, self._replay, self._forwarder)
        self._chooser = Chooser(self._live, self._spares, preparation, self._processes, self.stats)
        atexit.register(self.abandon)

    @asynccontextmanager
    async def turn(self, request: ChatRequest) -> AsyncIterator[Lease]:
        """A turn for the request on a process of this runtime, under the request's one deadline.

        The process is the runtime's choice (live, spare, reused, fed, or its
        own); when the block ends it is kept with what it holds, or closed.
        """
        deadline = Deadline.after(request.timeout)
        spec = spare_spec(request)
        own = not (self._keeps and poolable(request))
        if not own:
            self._live.begin(spec.key)
        lease: Lease | None = None
        try:
            # Digested once: the history can hold hundreds of turns (a long agent session).
            asked = [] if own else turn_digests(asked_turns(request))
            process, history = await _within(deadline, self._chooser.take(request, spec, own, asked))
            lease = Lease(request, deadline, process, history, asked)
            yield lease
        finally:
            if not own:
                self._live.end(spec.key)
            if lease is not None:
                # Shielded: a client that went away cancels this task, and the
                # process must be kept or closed all the same.
                await asyncio.shield(self._give_back(lease, spec, own))

    async def _give_back(self, lease: Lease, spec: Spec, own: bool) -> None:
        request, process, reply = lease.request, lease.process, lease.reply
        if own:
            await self._processes.close(process)
            return
        if self._keeps_spares:
            self._spares.replenish(spec, request.settings.pool_size)
        held = held_digests(lease.asked, reply) if reply is not None else []
        process.marks.append(None)  # the assistant turn
        clean = reply is not None and lease.ending.settled and not process.closed and len(process.marks) == len(held)
        if not clean or self._live.retired(process):
            await self._processes.close(process)
            return
        process.forget_transcript()
        process.combination, process.turns = combination(request), held
        self._live.keep(process, spec, request.settings)
        self._start_reaper()

    async def prewarm(self, request: ChatRequest, count: int) -> None:
        """Start ``count`` spares for the request's deployment and wait until they run."""
        await self._spares.prewarm(spare_spec(request), count)

    def expire(self) -> int:
        """Close every idle process unused for longer than its idle timeout."""
        now = self._clock()
        stale = [p for p in self.idle() if now - p.last_used > p.idle_timeout]
        for process in stale:
            self._forget(process)
            self._background.spawn(self._processes.close(process))
        return len(stale)

    def counts(self) -> dict[str, int]:
        """Processes by state, for metrics."""
        return {"busy": self._live.busy(), "idle": len(self._live.processes()), **self._spares.counts()}

    def idle(self) -> list[Process]:
        return [*self._spares.ready(), *self._live.processes()]

    def processes(self) -> list[Process]:
        """Every process of the runtime: starting, idle and busy."""
        return self._processes.all()

    async def settled(self) -> None:
        """Wait until the background work started so far is done: spare starts and closes."""
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
        """Close every process, busy ones included, and stop starting any (tests, shutdown)."""
        for task in self._spares.starting():
            task.cancel()
        for process in self.idle():
            self._forget(process)
        await self._processes.close_all()
        await self._background.settled()
        if self._replay is not None:
            await self._replay.close()
        await self._forwarder.close()

    def abandon(self) -> None:
        """Kill every process without its event loop (gone, or exiting)."""
        for process in self.idle():
            self._forget(process)
        self._processes.kill_all()

    @classmethod
    @asynccontextmanager
    async def once(cls, seam: Seam | None = None) -> AsyncIterator[Runtime]:
        """A runtime for one request in a short-lived event loop: nothing started ahead or kept,
        everything closed at the end."""
        runtime = cls(seam, spares=False, keep=False)
        try:
            yield runtime
        finally:
            await runtime.close()
            atexit.unregister(runtime.abandon)


class Background:
    """The tasks a runtime starts and does not wait for: closes, and the reaper of idle processes."""

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
