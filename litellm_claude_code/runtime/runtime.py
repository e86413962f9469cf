"""The session runtime: the one owner of every Claude Code process (issue 11).

A Claude Code process costs about 0.44 CPU-s and 300-400 ms to start, and a
turn on a running one 0.03 CPU-s. So processes are started ahead and kept:

* spare: spawned for a deployment with a placeholder system prompt and nothing
  written to its stdin. A request takes it and initialises it with its own
  system prompt (the CLI takes it from the first ``initialize``, which our
  transport adds to the SDK's), tools and controls (``apply_flag_settings``);
* live: the process that just answered a conversation, kept under exactly the
  conversation it now holds. The conversation's next request sends its new
  turn only;
* reused: an idle live process of plain chat that another conversation takes
  after ``rewind_conversation`` has emptied it and ``set_model`` has set the
  new system prompt (measured: requests identical to a fresh process's).

Earlier turns a process does not hold are fed into it without model calls
(``runner.seed``); only a very long history resumes a written transcript in a
process started for it. Every process is started, kept, and disposed of here
(``Runtime.dispose``: the process, its working directory and its session
files go together), and every turn runs under the request's one deadline,
which covers waiting for a process, initialising it, feeding the history and
the answer. Anything unexpected from the CLI while preparing a process
(a rewind not confirmed, an error answer) discards that process, and the
request is served by a process started for it alone (fail closed).

The control requests used here (``rewind_conversation``, ``set_model`` with a
system prompt, ``apply_flag_settings``) are not wrapped by the Python SDK:
the SDK is pinned, and tests/unit/test_runtime.py fails on an upgrade that
changes what they rely on.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
from claude_agent_sdk._internal.transport import Transport
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from ..request import ChatRequest
from ..translate import tools
from ..translate.params import cli_env
from . import sessions
from .options import build_options
from .processes import children_in, stop_processes
from .runner import QueryFunction, QueryTimeout, history_frames, run_query, run_turn, user_message
from .workspace import new_workdir, request_workspace

logger = logging.getLogger(__name__)

# A spare's system prompt until a request's replaces it at initialize.
PLACEHOLDER_SYSTEM_PROMPT = "You are a helpful assistant."
# Reuse bounds: RSS grows about 1.7 MiB per conversation; a process retires
# after this many conversations, this age or this much memory.
MAX_CONVERSATIONS = 200
MAX_AGE_SECONDS = 3600.0
MAX_RSS_MIB = 700.0
# Past this many earlier turns a transcript resumed by a new process is
# cheaper than feeding the turns one by one.
SEED_MAX_TURNS = 400
REAP_INTERVAL_SECONDS = 5.0
# A background start waits while the CPU is this busy (requests come first), up to the bound.
BUSY_CPU = 0.85
BUSY_WAIT_SECONDS = 10.0
DISPOSE_GRACE_SECONDS = 5.0


class ControlError(sdk.ProcessError):
    """The CLI answered a control request otherwise than expected: the process is discarded."""


@dataclass(eq=False)
class Process:
    """One Claude Code process and what it holds."""

    cwd: str
    config_dir: str
    key: Hashable  # what it was spawned for: a spare serves requests of this key only
    born: float
    transport: Any = None  # a spare's running transport, until initialised
    client: Any = None  # the connected client, once initialised
    reusable: bool = False  # plain chat, no overlays: may be rewound for another conversation
    conversations: int = 0
    first_uuid: str | None = None  # the first user frame of the conversation it holds
    last_uuid: str | None = None  # the latest one
    last_used: float = 0.0
    idle_timeout: float = 300.0


@dataclass(frozen=True)
class Spec:
    """How to start a spare for a request's deployment."""

    key: Hashable
    config_dir: str
    work_root: str | None
    idle_timeout: float
    options: Callable[[str], Any]  # cwd -> options of a spare


class Initialise(Transport):
    """A spare's running transport handed to a new ``ClaudeSDKClient``.

    The SDK's own ``initialize`` passes through ``write``; the fields the CLI
    reads from the first ``initialize`` (the request's system prompt, its
    in-process MCP server) are added to it there.
    """

    def __init__(self, inner: Any, extra: dict[str, Any]) -> None:
        self.inner = inner
        self.extra: dict[str, Any] | None = extra

    async def connect(self) -> None:
        await self.inner.connect()  # the process runs already: a no-op

    async def write(self, data: str) -> None:
        if self.extra is not None and '"initialize"' in data:
            message = json.loads(data)
            request = message.get("request") or {}
            if message.get("type") == "control_request" and request.get("subtype") == "initialize":
                request.update(self.extra)
                self.extra = None
                data = json.dumps(message) + "\n"
        await self.inner.write(data)

    def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        return self.inner.read_messages()  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.inner.close()

    def is_ready(self) -> bool:
        return bool(self.inner.is_ready())

    async def end_input(self) -> None:
        await self.inner.end_input()


async def _never() -> AsyncIterator[dict[str, Any]]:
    return
    yield {}


async def spawn(spec: Spec) -> Process:
    """A spare: the CLI running in its own empty directory, nothing written to it."""
    cwd = new_workdir(spec.work_root)
    process = Process(cwd, spec.config_dir, spec.key, time.monotonic(), idle_timeout=spec.idle_timeout)
    try:
        process.transport = SubprocessCLITransport(prompt=_never(), options=spec.options(cwd))
        await process.transport.connect()
    except BaseException:
        await asyncio.shield(_remove(process))
        raise
    return process


async def attach(process: Process, options: Any, extra: dict[str, Any]) -> Any:
    """Initialise a spare for a request: a new client on its running transport."""
    client = sdk.ClaudeSDKClient(options, transport=Initialise(process.transport, extra))
    await client.connect()
    return client


async def connect(options: Any) -> Any:
    """A process started for one request with all of its options (the cold path)."""
    client = sdk.ClaudeSDKClient(options)
    await client.connect()
    return client


async def control(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    """A control request the SDK does not wrap, through its own request routing."""
    try:
        response = await client._query._send_control_request(request, timeout=10.0)
    except Exception as error:  # the SDK raises an error answer as a plain Exception
        raise ControlError(f"Claude Code refused {request.get('subtype')}: {error}") from None
    return response if isinstance(response, dict) else {}


def flag_settings(request: ChatRequest) -> dict[str, Any] | None:
    """``apply_flag_settings`` for the request's controls: what ``--effort`` and their env set at spawn."""
    settings: dict[str, Any] = {}
    env = cli_env(request.controls)
    if env:
        settings["env"] = env
    if request.controls.effort:
        settings["effortLevel"] = request.controls.effort
    return settings or None


def _cpu_ticks() -> tuple[int, int]:
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # total, idle + iowait


async def cpu_busy(window: float = 0.1) -> float:
    """The machine's busy CPU share over ``window`` seconds (0 where /proc/stat is unreadable)."""
    try:
        total, idle = _cpu_ticks()
        await asyncio.sleep(window)
        total2, idle2 = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle2 - idle) / max(1, total2 - total)


def rss_mib(process: Process) -> float:
    total = 0
    for pid in children_in(process.cwd):
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0])
    return total / 1024


class Runtime:
    """Every Claude Code process of one event loop: spares, live and busy ones."""

    def __init__(
        self,
        spawn: Callable[[Spec], Awaitable[Process]] = spawn,
        attach: Callable[[Process, Any, dict[str, Any]], Awaitable[Any]] = attach,
        connect: Callable[[Any], Awaitable[Any]] = connect,
        control: Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]] = control,
        clock: Callable[[], float] = time.monotonic,
        rss: Callable[[Process], float] = rss_mib,
        spares: bool = True,
        busy: Callable[[], Awaitable[float]] = cpu_busy,
    ) -> None:
        """``spares=False``: no process is started ahead (one-off use)."""
        # Processes belong to the event loop that started them (the proxy has
        # one for its whole life; a library caller's asyncio.run gets its own).
        self.loop = asyncio.get_running_loop()
        self._spawn, self._attach, self._connect, self._control = spawn, attach, connect, control
        self._clock, self._rss, self._cpu_busy = clock, rss, busy
        self._keeps_spares = spares
        self._spares: dict[Hashable, deque[Process]] = {}
        self._starting: dict[Hashable, list[asyncio.Task[Process]]] = {}
        self._live: OrderedDict[str, Process] = OrderedDict()
        self._busy: Counter[Hashable] = Counter()
        self._peak: dict[Hashable, tuple[int, float]] = {}  # key -> (busy peak, when)
        self._background = asyncio.Semaphore(1)  # one background start at a time
        self._tasks: set[asyncio.Future[Any]] = set()
        self._reaper: asyncio.Future[Any] | None = None
        self.stats: Counter[str] = Counter()
        atexit.register(self.abandon)

    # -- one request ----------------------------------------------------------

    async def run(self, request: ChatRequest, reply: Callable[[], str | None]) -> AsyncGenerator[Any, None]:
        """The SDK messages of the request's turn on a process of this runtime.

        ``reply`` tells, once the turn is over, the whole reply when the
        process now holds exactly it (stream.StreamTranslator.plain_reply);
        otherwise the process is disposed of.
        """
        deadline = self.loop.time() + request.timeout
        spec = self._spec(request)
        self._busy[spec.key] += 1
        self._note_peak(spec.key)
        process: Process | None = None
        try:
            process, history = await self._within(deadline, self._take(request, spec))
            prompt = user_message(request.conversation.prompt)
            process.first_uuid = process.first_uuid or _first_user(history) or prompt["uuid"]
            process.last_uuid = prompt["uuid"]
            process.conversations += 1
            turn = run_turn(process.client, prompt, process.cwd, deadline, history)
            async with aclosing(turn) as messages:
                async for message in messages:
                    yield message
        finally:
            self._busy[spec.key] -= 1
            if process is not None:
                # Shielded: a client that went away cancels this task, and the
                # process must be kept or go all the same.
                await asyncio.shield(self._give_back(request, spec, process, reply()))

    async def _within(self, deadline: float, work: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout_at(deadline):
                return await work
        except TimeoutError:
            raise QueryTimeout from None

    async def _take(self, request: ChatRequest, spec: Spec) -> tuple[Process, list[dict[str, Any]]]:
        """A process ready for the request's new turn, and the earlier turns it still needs."""
        turns = request.transcript_turns()
        if turns:
            live = self._live.pop(_conversation_key(request, request.conversation.history), None)
            if live is not None:
                self.stats["live"] += 1
                return live, []
        if len(turns) > SEED_MAX_TURNS:
            self.stats["resumed"] += 1
            return await self._cold(request, spec, turns), []
        async for process in _Candidates(self, request, spec):
            try:
                await self._prepare(process, request)
            except (ControlError, sdk.ClaudeSDKError, OSError) as error:
                logger.info("Claude Code process discarded while preparing it: %s", error)
                await self.dispose(process)
                continue
            except BaseException:  # the deadline passed or the client went away: the process goes too
                await asyncio.shield(self.dispose(process))
                raise
            return process, history_frames(turns)
        self.stats["cold"] += 1
        return await self._cold(request, spec, None), history_frames(turns)

    async def _prepare(self, process: Process, request: ChatRequest) -> None:
        """Set a process up for the request: initialise a spare, or empty and set a reused one."""
        system = build_options(request.plan(process.cwd, None), request.settings).system_prompt
        if process.client is None:
            extra: dict[str, Any] = {"systemPrompt": [system]}
            if request.controls.tools.offered:
                extra["sdkMcpServers"] = [tools.SERVER]
            options = self._options(request, process.cwd)
            process.client = await self._attach(process, options, extra)
            process.transport = None
            process.reusable = not request.controls.tools.offered
            self.stats["spare"] += 1
        else:
            rewound = await self._control(
                process.client,
                {
                    "subtype": "rewind_conversation",
                    "target_message_uuid": process.first_uuid,
                    "last_seen_user_message_uuid": process.last_uuid,
                },
            )
            if rewound.get("rewound") is not True:
                raise ControlError(f"rewind_conversation answered {rewound!r}")
            process.first_uuid = process.last_uuid = None
            model = request.model  # the alias or id it was spawned with; "default" for the account's
            changed = await self._control(
                process.client, {"subtype": "set_model", "model": model, "system_prompt": system}
            )
            if not isinstance(changed.get("model"), str):
                raise ControlError(f"set_model answered {changed!r}")
            self.stats["reused"] += 1
        settings = flag_settings(request)
        if settings:
            # Overlays persist into the next conversation: such a process is not reused.
            await self._control(process.client, {"subtype": "apply_flag_settings", "settings": settings})
            process.reusable = False

    async def _cold(self, request: ChatRequest, spec: Spec, turns: list[dict[str, Any]] | None) -> Process:
        """A process started for this request alone, with all its options (resuming ``turns``)."""
        cwd = new_workdir(request.settings.work_root)
        process = Process(cwd, request.config_dir, spec.key, self._clock(), idle_timeout=spec.idle_timeout)
        try:
            resume = sessions.write_history(turns or [], request.config_dir, cwd)
            process.client = await self._connect(self._options(request, cwd, resume))
        except BaseException:
            await asyncio.shield(self.dispose(process))
            raise
        self.stats["started"] += 1
        # Its system prompt and controls were given at spawn; set_model sets a
        # new prompt after a rewind as well, but not the controls' environment.
        controls = cli_env(request.controls) or request.controls.effort
        process.reusable = resume is None and not request.controls.tools.offered and not controls
        return process

    def _options(self, request: ChatRequest, cwd: str, resume: str | None = None) -> Any:
        return build_options(request.plan(cwd, resume), request.settings, stderr=_log_stderr)

    # -- giving back ----------------------------------------------------------

    async def _give_back(self, request: ChatRequest, spec: Spec, process: Process, reply: str | None) -> None:
        if self._keeps_spares:
            self._replenish(request, spec)
        if reply is None or self._retired(process):
            await self.dispose(process)
            return
        sessions.remove_project(process.config_dir, process.cwd)
        process.last_used = self._clock()
        self._live[_conversation_key(request, request.held_turns(reply))] = process
        self._trim(spec, request)
        self._start_reaper()

    def _retired(self, process: Process) -> bool:
        too_old = self._clock() - process.born > MAX_AGE_SECONDS
        return process.conversations >= MAX_CONVERSATIONS or too_old or self._rss(process) > MAX_RSS_MIB

    def _idle_cap(self, spec: Spec, request: ChatRequest) -> int:
        """Idle processes kept: the recent peak of busy ones, within pool_size and max_concurrent."""
        peak, when = self._peak.get(spec.key, (0, 0.0))
        recent = peak if self._clock() - when < spec.idle_timeout else 0
        settings = request.settings
        return max(0, min(settings.max_concurrent, max(settings.pool_size, recent)))

    def _note_peak(self, key: Hashable) -> None:
        peak, when = self._peak.get(key, (0, 0.0))
        busy = self._busy[key]
        if busy >= peak or self._clock() - when > REAP_INTERVAL_SECONDS * 12:
            self._peak[key] = (busy, self._clock())

    def _trim(self, spec: Spec, request: ChatRequest) -> None:
        live = [(k, p) for k, p in self._live.items() if p.key == spec.key]
        excess = len(live) - self._idle_cap(spec, request)
        for conversation, process in live[: max(0, excess)]:  # least recently kept first
            del self._live[conversation]
            self._spawn_task(self.dispose(process))

    # -- spares ---------------------------------------------------------------

    def _spec(self, request: ChatRequest) -> Spec:
        settings = request.settings
        key = (settings, request.model, tuple(sorted(request.account_env.items())), request.config_dir)

        def options(cwd: str) -> Any:
            plan = request.spare_plan(cwd, PLACEHOLDER_SYSTEM_PROMPT)
            return build_options(plan, settings, stderr=_log_stderr)

        return Spec(key, request.config_dir, settings.work_root, settings.idle_timeout, options)

    async def prewarm(self, request: ChatRequest, count: int) -> None:
        """Start ``count`` spares for the request's deployment and wait until they run."""
        spec = self._spec(request)
        tasks = [self._start_spare(spec, background=False) for _ in range(count)]
        await asyncio.gather(*(asyncio.shield(task) for task in tasks), return_exceptions=True)

    def _replenish(self, request: ChatRequest, spec: Spec) -> None:
        """Keep ``pool_size`` spares of the request's deployment starting or ready."""
        have = len(self._spares.get(spec.key, ())) + len(self._starting.get(spec.key, ()))
        for _ in range(max(0, request.settings.pool_size - have)):
            self._start_spare(spec, background=True)

    def _start_spare(self, spec: Spec, background: bool) -> asyncio.Task[Process]:
        task = asyncio.ensure_future(self._spawn_spare(spec, background))
        self._starting.setdefault(spec.key, []).append(task)
        task.add_done_callback(lambda done: self._started(spec, done))
        return task

    async def _spawn_spare(self, spec: Spec, background: bool) -> Process:
        if not background:
            return await self._spawn(spec)
        async with self._background:  # background starts never run two at a time
            await self._while_cpu_is_busy()
            return await self._spawn(spec)

    async def _while_cpu_is_busy(self) -> None:
        """Let requests have a saturated CPU: a start (0.44 CPU-s) waits, within a bound."""
        deadline = self.loop.time() + BUSY_WAIT_SECONDS
        while self.loop.time() < deadline and await self._cpu_busy() > BUSY_CPU:
            self.stats["deferred"] += 1

    def _started(self, spec: Spec, task: asyncio.Task[Process]) -> None:
        starting = self._starting.get(spec.key, [])
        if task not in starting:
            return  # claimed by a request, which owns the process now
        starting.remove(task)
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                logger.warning("could not start a spare Claude Code process: %s", task.exception())
            return
        process = task.result()
        process.last_used = self._clock()
        self.stats["started"] += 1
        self._spares.setdefault(spec.key, deque()).append(process)
        self._start_reaper()

    def _take_spare(self, key: Hashable) -> Process | None:
        spares = self._spares.get(key)
        return spares.popleft() if spares else None

    def _claim_starting(self, key: Hashable) -> asyncio.Task[Process] | None:
        starting = self._starting.get(key)
        return starting.pop(0) if starting else None

    def _unclaim(self, key: Hashable, task: asyncio.Task[Process]) -> None:
        if not task.done():
            self._starting.setdefault(key, []).append(task)  # _started files it when it is up
        elif not task.cancelled() and task.exception() is None:
            process = task.result()
            process.last_used = self._clock()
            self._spares.setdefault(key, deque()).append(process)

    def _take_reusable(self, key: Hashable) -> Process | None:
        for conversation, process in self._live.items():  # least recently kept first
            if process.key == key and process.reusable:
                del self._live[conversation]
                return process
        return None

    # -- disposal -------------------------------------------------------------

    async def dispose(self, process: Process) -> None:
        """Stop the process at once and remove its directory and session files."""
        await stop_processes(process.cwd)
        closing = process.client.disconnect() if process.client is not None else None
        if closing is None and process.transport is not None:
            closing = process.transport.close()
        if closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing, timeout=DISPOSE_GRACE_SECONDS)
        await _remove(process)

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
            "busy": sum(self._busy.values()),
            "idle": len(self._live),
            "spare": sum(len(spares) for spares in self._spares.values()),
            "starting": sum(len(tasks) for tasks in self._starting.values()),
        }

    def idle(self) -> list[Process]:
        return [*(p for spares in self._spares.values() for p in spares), *self._live.values()]

    def _forget(self, process: Process) -> None:
        for spares in self._spares.values():
            with contextlib.suppress(ValueError):
                spares.remove(process)
        for conversation in [k for k, p in self._live.items() if p is process]:
            del self._live[conversation]

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        while self.idle():
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            self.expire()

    def _spawn_task(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Dispose of every idle and starting process (tests, shutdown)."""
        for tasks in self._starting.values():
            for task in tasks:
                task.cancel()
        for process in self.idle():
            self._forget(process)
            await self.dispose(process)

    def abandon(self) -> None:
        """Kill every idle process without its event loop (gone, or exiting)."""
        for process in self.idle():
            self._forget(process)
            for pid in children_in(process.cwd):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            sessions.remove_project(process.config_dir, process.cwd)
            shutil.rmtree(process.cwd, ignore_errors=True)


class _Candidates:
    """Processes to try for a new conversation, best first, each taken when reached.

    Plain chat: an idle process to reuse, else a spare, else one starting (waited
    for, not started twice). With tools: a spare or one starting (an idle
    process's hooks and MCP server belong to the conversation it was set up for).
    Then nothing: the caller starts a process of its own.
    """

    def __init__(self, runtime: Runtime, request: ChatRequest, spec: Spec) -> None:
        self.runtime, self.request, self.spec = runtime, request, spec
        self.plain = not request.controls.tools.offered

    def __aiter__(self) -> _Candidates:
        return self

    async def __anext__(self) -> Process:
        runtime, key = self.runtime, self.spec.key
        process = runtime._take_reusable(key) if self.plain else None
        process = process or runtime._take_spare(key)
        if process is not None:
            return process
        starting = runtime._claim_starting(key)
        if starting is None:
            raise StopAsyncIteration
        runtime.stats["waited"] += 1
        try:
            process = await asyncio.shield(starting)
        except asyncio.CancelledError:
            runtime._unclaim(key, starting)  # the request gave up: the process becomes a spare
            raise
        except Exception as error:  # a failed start: the request starts its own
            logger.warning("a spare Claude Code process failed to start: %s", error)
            raise StopAsyncIteration from None
        runtime.stats["started"] += 1
        return process


def _first_user(frames: list[dict[str, Any]]) -> str | None:
    return next((f["uuid"] for f in frames if f["type"] == "user"), None)


def _conversation_key(request: ChatRequest, turns: list[dict[str, Any]]) -> str:
    """Identity of what a process holds: the request's combination plus every turn."""
    payload = json.dumps([repr(request.ready_key), turns], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


async def _remove(process: Process) -> None:
    sessions.remove_project(process.config_dir, process.cwd)
    shutil.rmtree(process.cwd, ignore_errors=True)


def _log_stderr(line: str) -> None:
    logger.debug("claude: %s", line)


async def one_shot(query: QueryFunction, request: ChatRequest) -> AsyncGenerator[Any, None]:
    """A process for this request only (``query()``), in a directory removed afterwards.

    For callers without a long-lived event loop, and for JSON output (whose
    ``--json-schema`` and turn limit are fixed when a process starts).
    """
    deadline = asyncio.get_running_loop().time() + request.timeout
    with request_workspace(request.config_dir, request.settings.work_root) as cwd:
        resume = sessions.write_history(request.transcript_turns(), request.config_dir, cwd)
        options = build_options(request.plan(cwd, resume), request.settings, stderr=_log_stderr)
        async with aclosing(run_query(query, request.conversation.prompt, options, deadline)) as messages:
            async for message in messages:
                yield message


async def seeded_once(request: ChatRequest) -> AsyncGenerator[Any, None]:
    """Tool results without a long-lived loop: a process started for them, the history fed in."""
    runtime = Runtime(spares=False)
    try:
        async with aclosing(runtime.run(request, lambda: None)) as messages:
            async for message in messages:
                yield message
    finally:
        await runtime.close()
        atexit.unregister(runtime.abandon)
