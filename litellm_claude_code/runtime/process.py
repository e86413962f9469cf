"""One Claude Code process, which owns its life, and the registry of a runtime's processes.

A ``Process`` starts itself (a spare with nothing written to it, or a process
with all of a request's options), keeps its pid, and its one ``aclose`` stops it
at once and removes its session files, whichever path ends it; ``kill`` does the
same without an event loop. ``Processes`` is the one place a runtime starts and
closes them: it holds every process from its start to its close, busy ones
included, so shutdown reaches all of them. Processes share one working
directory (``workspace.shared_workdir``) and are known by their pid only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk

from ..sdk_seam import Client, CLITransport, Seam
from . import pids
from .forwarder import Route
from .workspace import shared_workdir

CLOSE_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Spec:
    """How to start a spare for a request's deployment."""

    key: Hashable
    config_dir: str
    work_root: str | None
    idle_timeout: float
    options: Callable[[str], sdk.ClaudeAgentOptions]  # cwd -> options of a spare


@dataclass(eq=False)
class Process:
    """One Claude Code process and what it holds."""

    cwd: str
    config_dir: str
    key: Hashable  # what it was spawned for: a spare serves requests of this key only
    born: float
    seam: Seam = field(default_factory=Seam, repr=False)
    transport: CLITransport | None = None  # a spare's running transport, until initialised
    client: Client | None = None  # the connected client, once initialised
    reusable: bool = False  # plain chat, no overlays: may be rewound for another conversation
    conversations: int = 0  # conversations it has begun (a live continuation is the same one)
    first_uuid: str | None = None  # the first user frame of the conversation it holds
    last_uuid: str | None = None  # the latest one
    last_used: float = 0.0
    idle_timeout: float = 300.0
    pid: int | None = None  # the CLI's, once it runs
    transcript: Path | None = None  # a session transcript written for it to resume, removed with it
    route: Route | None = None  # its API through the search forwarder (a searched request's), closed with it
    closed: bool = False
    # What it holds, once kept (live.Live): how it was set up, a digest per turn
    # (keys.turn_digests), and per turn the uuid of the user frame where
    # rewind_conversation may cut it back (None: an assistant turn, or tool
    # results, which must stay with their calls).
    combination: str | None = None
    turns: list[str] = field(default_factory=list)
    marks: list[str | None] = field(default_factory=list)

    # -- its life -------------------------------------------------------------

    async def spawn(self, options: sdk.ClaudeAgentOptions) -> None:
        """Start it as a spare: the CLI running, nothing written to it."""
        self.transport = await self.seam.open(options)
        self.pid = self.seam.pid(self.transport)

    async def connect(self, options: sdk.ClaudeAgentOptions) -> None:
        """Start it with all of a request's options, connected (the cold path)."""
        self.client = await self.seam.connect(options)
        self.pid = self.seam.pid(self.client)

    async def attach(self, options: sdk.ClaudeAgentOptions, extra: dict[str, Any]) -> None:
        """Initialise a spare for a request: a new client on its running transport."""
        assert self.transport is not None, "a spare holds its transport until it is initialised"
        self.client = await self.seam.attach(self.transport, options, extra)
        self.transport = None

    async def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """A control request (``sdk_seam.control``); raises ``ControlError`` when refused."""
        assert self.client is not None, "control requests go to a connected process"
        return await self.seam.control(self.client, request)

    def alive(self) -> bool:
        """Its CLI still runs (not gone, not a zombie)."""
        return self.pid is not None and bool(pids.running([self.pid]))

    def rss_mib(self) -> float:
        return pids.rss_mib([self.pid] if self.pid is not None else [])

    async def aclose(self) -> None:
        """Stop it at once (the SDK's own close would give the CLI seconds to finish its turn),
        let go of its pipe, remove its session files. Once; later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.pid is not None:
                await pids.stop([self.pid])
            closing = self.client.disconnect() if self.client is not None else None
            if closing is None and self.transport is not None:
                closing = self.transport.close()
            if closing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing, timeout=CLOSE_GRACE_SECONDS)
        finally:
            self.forget_transcript()
            self._let_go_of_route()

    def kill(self) -> None:
        """``aclose`` without an event loop (gone, or exiting): kill it, remove its files."""
        self.closed = True
        if self.pid is not None:
            pids.kill([self.pid])
        self.forget_transcript()
        self._let_go_of_route()

    def _let_go_of_route(self) -> None:
        if self.route is not None:
            self.route.close()

    def forget_transcript(self) -> None:
        """Remove the session transcript it resumed, if any (the shared directory's other files stay)."""
        if self.transcript is not None:
            self.transcript.unlink(missing_ok=True)
            self.transcript = None

    # -- what it holds --------------------------------------------------------

    def start_turn(self, fed: list[dict[str, Any]], prompt: dict[str, Any]) -> None:
        """A request's turn begins: ``fed`` the frames of history fed before its ``prompt`` frame."""
        if self.first_uuid is None:  # empty (new, or rewound for another conversation)
            self.conversations += 1
            self.turns, self.marks = [], []
        users = [frame["uuid"] for frame in [*fed, prompt] if frame["type"] == "user"]
        self.first_uuid = self.first_uuid or users[0]
        self.last_uuid = prompt["uuid"]
        self.marks += [_mark(frame) for frame in [*fed, prompt]]

    def resumed(self, count: int) -> None:
        """It was started resuming a transcript of ``count`` earlier turns: it holds them, none a cut
        point (their uuids are the transcript's), and it serves this conversation only."""
        self.conversations += 1
        self.first_uuid = self.last_uuid = RESUMED
        self.turns, self.marks = [], [None] * count

    def replayed(self, frame: dict[str, Any]) -> None:
        """It was asked ``frame`` (a user turn) and answered the recorded answer: it holds those two."""
        self.conversations += 1
        self.first_uuid = self.last_uuid = frame["uuid"]
        self.turns, self.marks = [], [frame["uuid"], None]

    def cut(self, keep: int) -> None:
        """It was rewound to hold only its first ``keep`` turns."""
        del self.turns[keep:], self.marks[keep:]
        self.last_uuid = next((m for m in reversed(self.marks) if m is not None), self.first_uuid)

    def emptied(self) -> None:
        """It was rewound to hold nothing."""
        self.first_uuid = self.last_uuid = None
        self.turns, self.marks = [], []


# A resumed process's first user frame: one of the transcript's, never rewound to (it is not reused).
RESUMED = "resumed-transcript"


def _mark(frame: dict[str, Any]) -> str | None:
    if frame["type"] != "user":
        return None
    content = frame["message"]["content"]
    answers = isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)
    return None if answers else str(frame["uuid"])


class Processes:
    """Every process of one runtime, from its start to its close, busy ones included.

    The one place processes are started (``spawn``, ``start``) and closed
    (``close``, ``close_all``, ``kill_all``).
    """

    def __init__(self, seam: Seam | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seam = seam or Seam()
        self._clock = clock
        self._all: set[Process] = set()

    async def spawn(self, spec: Spec) -> Process:
        """A spare: the CLI running in the shared empty directory, nothing written to it."""
        cwd = shared_workdir(spec.work_root)
        process = self._new(cwd, spec.config_dir, spec.key, spec.idle_timeout)
        await self._starting(process, process.spawn(spec.options(cwd)))
        return process

    async def start(
        self, options: sdk.ClaudeAgentOptions, spec: Spec, transcript: Path | None = None, route: Route | None = None
    ) -> Process:
        """A process started with all of ``options`` (resuming ``transcript``; its API through ``route``:
        both closed with it)."""
        process = self._new(str(options.cwd), spec.config_dir, spec.key, spec.idle_timeout)
        process.transcript, process.route = transcript, route
        await self._starting(process, process.connect(options))
        return process

    async def close(self, process: Process) -> None:
        """Stop the process and remove its files; it is no longer of this runtime."""
        try:
            await process.aclose()
        finally:
            self._all.discard(process)

    async def close_all(self) -> None:
        """Close every process: idle, starting and busy alike."""
        await asyncio.gather(*(self.close(process) for process in list(self._all)))

    def kill_all(self) -> None:
        """``close_all`` without an event loop."""
        for process in list(self._all):
            process.kill()
            self._all.discard(process)

    def all(self) -> list[Process]:
        return list(self._all)

    def _new(self, cwd: str, config_dir: str, key: Hashable, idle_timeout: float) -> Process:
        process = Process(cwd, config_dir, key, self._clock(), self.seam, idle_timeout=idle_timeout)
        self._all.add(process)
        return process

    async def _starting(self, process: Process, start: Any) -> None:
        try:
            await start
        except BaseException:
            await asyncio.shield(self.close(process))
            raise
