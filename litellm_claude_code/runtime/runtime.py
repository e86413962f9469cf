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
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

import claude_agent_sdk as sdk

from ..request import ChatRequest
from . import process as processes
from . import sessions
from .live import Live
from .options import build_options
from .prepare import Attach, Connect, Control, Preparation
from .process import ControlError, Process, Spec, log_stderr, rss_mib
from .protocols import QueryFunction
from .runner import QueryTimeout, history_frames, run_query, run_turn, user_message
from .spares import Spares, cpu_busy, spare_spec
from .workspace import request_workspace

__all__ = ["ControlError", "Process", "Runtime", "Spec", "one_shot", "seeded_once"]

logger = logging.getLogger(__name__)

# Past this many earlier turns a transcript resumed by a new process is
# cheaper than feeding the turns one by one.
SEED_MAX_TURNS = 400
REAP_INTERVAL_SECONDS = 5.0

T = TypeVar("T")


class Runtime:
    """Every Claude Code process of one event loop: spares, live and busy ones."""

    def __init__(
        self,
        spawn: Callable[[Spec], Awaitable[Process]] = processes.spawn,
        attach: Attach = processes.attach,
        connect: Connect = processes.connect,
        control: Control = processes.control,
        clock: Callable[[], float] = time.monotonic,
        rss: Callable[[Process], float] = rss_mib,
        spares: bool = True,
        busy: Callable[[], Awaitable[float]] = cpu_busy,
    ) -> None:
        """``spares=False``: no process is started ahead (one-off use)."""
        # Processes belong to the event loop that started them (the proxy has
        # one for its whole life; a library caller's asyncio.run gets its own).
        self.loop = asyncio.get_running_loop()
        self.stats: Counter[str] = Counter()
        self._clock, self._keeps_spares = clock, spares
        self._spares = Spares(spawn, clock, busy, self.stats, on_ready=self._start_reaper)
        self._live = Live(clock, rss, discard=lambda process: self._spawn_task(self.dispose(process)))
        self._preparation = Preparation(attach, connect, control, clock, self.stats)
        self._tasks: set[asyncio.Future[None]] = set()
        self._reaper: asyncio.Future[None] | None = None
        atexit.register(self.abandon)

    async def run(self, request: ChatRequest, reply: Callable[[], str | None]) -> AsyncGenerator[sdk.Message, None]:
        """The SDK messages of the request's turn on a process of this runtime.

        ``reply`` tells, once the turn is over, the whole reply when the
        process now holds exactly it (stream.StreamTranslator.plain_reply);
        otherwise the process is disposed of.
        """
        deadline = self.loop.time() + request.timeout
        spec = spare_spec(request)
        self._live.begin(spec.key)
        process: Process | None = None
        try:
            taken, history = await _within(deadline, self._take(request, spec))
            process = taken
            prompt = user_message(request.conversation.prompt)
            taken.first_uuid = taken.first_uuid or _first_user(history) or prompt["uuid"]
            taken.last_uuid = prompt["uuid"]
            taken.conversations += 1
            assert taken.client is not None, "a taken process is connected"
            turn = run_turn(taken.client, prompt, taken.cwd, deadline, history)
            async with aclosing(turn) as messages:
                async for message in messages:
                    yield message
        finally:
            self._live.end(spec.key)
            if process is not None:
                # Shielded: a client that went away cancels this task, and the
                # process must be kept or go all the same.
                await asyncio.shield(self._give_back(request, spec, process, reply()))

    async def _take(self, request: ChatRequest, spec: Spec) -> tuple[Process, list[dict[str, Any]]]:
        """A process ready for the request's new turn, and the earlier turns it still needs."""
        turns = request.transcript_turns()
        if turns:
            live = self._live.pop(_conversation_key(request, request.conversation.history))
            if live is not None:
                self.stats["live"] += 1
                return live, []
        if len(turns) > SEED_MAX_TURNS:
            self.stats["resumed"] += 1
            return await self._preparation.cold(request, spec, turns), []
        async for process in _Candidates(self._live, self._spares, self.stats, request, spec):
            try:
                await self._preparation.prepare(process, request)
            except (ControlError, sdk.ClaudeSDKError, OSError) as error:
                logger.info("Claude Code process discarded while preparing it: %s", error)
                await self.dispose(process)
                continue
            except BaseException:  # the deadline passed or the client went away: the process goes too
                await asyncio.shield(self.dispose(process))
                raise
            return process, history_frames(turns)
        self.stats["cold"] += 1
        return await self._preparation.cold(request, spec, None), history_frames(turns)

    async def _give_back(self, request: ChatRequest, spec: Spec, process: Process, reply: str | None) -> None:
        if self._keeps_spares:
            self._spares.replenish(spec, request.settings.pool_size)
        if reply is None or self._live.retired(process):
            await self.dispose(process)
            return
        sessions.remove_project(process.config_dir, process.cwd)
        self._live.keep(_conversation_key(request, request.held_turns(reply)), process, spec, request.settings)
        self._start_reaper()

    async def prewarm(self, request: ChatRequest, count: int) -> None:
        """Start ``count`` spares for the request's deployment and wait until they run."""
        await self._spares.prewarm(spare_spec(request), count)

    async def dispose(self, process: Process) -> None:
        """Stop the process at once and remove its directory and session files."""
        await processes.dispose(process)

    def expire(self) -> int:
        """Dispose of every idle process unused for longer than its idle timeout."""
        now = self._clock()
        stale = [p for p in self.idle() if now - p.last_used > p.idle_timeout]
        for process in stale:
            self._forget(process)
            self._spawn_task(self.dispose(process))
        return len(stale)

    def counts(self) -> dict[str, int]:
        """Processes by state, for metrics."""
        return {
            "busy": self._live.busy(),
            "idle": len(self._live.processes()),
            "spare": len(self._spares.ready()),
            "starting": len(self._spares.starting()),
        }

    def idle(self) -> list[Process]:
        return [*self._spares.ready(), *self._live.processes()]

    async def settled(self) -> None:
        """Wait until the background work started so far is done: spare starts and disposals."""
        await self._spares.settled()
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _forget(self, process: Process) -> None:
        self._spares.forget(process)
        self._live.forget(process)

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        while self.idle():
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            self.expire()

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Dispose of every idle and starting process (tests, shutdown)."""
        for task in self._spares.starting():
            task.cancel()
        for process in self.idle():
            self._forget(process)
            await self.dispose(process)

    def abandon(self) -> None:
        """Kill every idle process without its event loop (gone, or exiting)."""
        for process in self.idle():
            self._forget(process)
            processes.abandon(process)


class _Candidates:
    """Processes to try for a new conversation, best first, each taken when reached.

    Plain chat: an idle process to reuse, else a spare, else one starting (waited
    for, not started twice). With tools: a spare or one starting (an idle
    process's hooks and MCP server belong to the conversation it was set up for).
    Then nothing: the caller starts a process of its own.
    """

    def __init__(self, live: Live, spares: Spares, stats: Counter[str], request: ChatRequest, spec: Spec) -> None:
        self.live, self.spares, self.stats = live, spares, stats
        self.key = spec.key
        self.plain = not request.controls.tools.offered

    def __aiter__(self) -> _Candidates:
        return self

    async def __anext__(self) -> Process:
        process = self.live.take_reusable(self.key) if self.plain else None
        process = process or self.spares.take(self.key)
        if process is not None:
            return process
        starting = self.spares.claim_starting(self.key)
        if starting is None:
            raise StopAsyncIteration
        self.stats["waited"] += 1
        try:
            process = await asyncio.shield(starting)
        except asyncio.CancelledError:
            self.spares.unclaim(self.key, starting)  # the request gave up: the process becomes a spare
            raise
        except Exception as error:  # a failed start: the request starts its own
            logger.warning("a spare Claude Code process failed to start: %s", error)
            raise StopAsyncIteration from None
        self.stats["started"] += 1
        return process


async def _within(deadline: float, work: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout_at(deadline):
            return await work
    except TimeoutError:
        raise QueryTimeout from None


def _first_user(frames: list[dict[str, Any]]) -> str | None:
    return next((f["uuid"] for f in frames if f["type"] == "user"), None)


def _conversation_key(request: ChatRequest, turns: list[dict[str, Any]]) -> str:
    """Identity of what a process holds: the request's combination plus every turn."""
    payload = json.dumps([repr(request.ready_key), turns], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


async def one_shot(query: QueryFunction, request: ChatRequest) -> AsyncGenerator[sdk.Message, None]:
    """A process for this request only (``query()``), in a directory removed afterwards.

    For callers without a long-lived event loop, and for JSON output (whose
    ``--json-schema`` and turn limit are fixed when a process starts).
    """
    deadline = asyncio.get_running_loop().time() + request.timeout
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
