"""One Claude Code process of the runtime: starting it, talking to it, disposing of it.

Every process goes through ``dispose`` (or, without an event loop, ``abandon``):
the process and its session files go together, and its working directory when
it has one of its own. Processes of the runtime share one working directory
(``workspace.shared_workdir``) and are known by their pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import claude_agent_sdk as sdk
from claude_agent_sdk._internal.transport import Transport
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from . import sessions
from .pids import children_in, running, stop
from .protocols import Client, CLITransport
from .workspace import shared_workdir

logger = logging.getLogger(__name__)

DISPOSE_GRACE_SECONDS = 5.0
CONTROL_TIMEOUT_SECONDS = 10.0


class ControlError(sdk.ProcessError):
    """The CLI answered a control request otherwise than expected: the process is discarded."""


@dataclass(eq=False)
class Process:
    """One Claude Code process and what it holds."""

    cwd: str
    config_dir: str
    key: Hashable  # what it was spawned for: a spare serves requests of this key only
    born: float
    transport: CLITransport | None = None  # a spare's running transport, until initialised
    client: Client | None = None  # the connected client, once initialised
    reusable: bool = False  # plain chat, no overlays: may be rewound for another conversation
    conversations: int = 0  # conversations it has begun (a live continuation is the same one)
    first_uuid: str | None = None  # the first user frame of the conversation it holds
    last_uuid: str | None = None  # the latest one
    last_used: float = 0.0
    idle_timeout: float = 300.0
    pid: int | None = None  # the CLI's, once it runs
    owns_cwd: bool = True  # its working directory is its own (removed with it), not the shared one
    transcript: Path | None = None  # a session transcript written for it to resume, removed with it
    # What it holds, once kept (live.Live): how it was set up, a digest per turn
    # (live.turn_digests), and per turn the uuid of the user frame where
    # rewind_conversation may cut it back (None: an assistant turn, or tool
    # results, which must stay with their calls).
    combination: str | None = None
    turns: list[str] = field(default_factory=list)
    marks: list[str | None] = field(default_factory=list)

    def pids(self) -> list[int]:
        """Its running CLI process: by its pid, or by its own directory (never the shared one)."""
        if self.pid is not None:
            return running([self.pid])
        return children_in(self.cwd) if self.owns_cwd else []

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


@dataclass(frozen=True)
class Spec:
    """How to start a spare for a request's deployment."""

    key: Hashable
    config_dir: str
    work_root: str | None
    idle_timeout: float
    options: Callable[[str], sdk.ClaudeAgentOptions]  # cwd -> options of a spare


class Initialise(Transport):
    """A spare's running transport handed to a new ``ClaudeSDKClient``.

    The SDK's own ``initialize`` passes through ``write``; the fields the CLI
    reads from the first ``initialize`` (the request's system prompt, its
    in-process MCP server) are added to it there.
    """

    def __init__(self, inner: CLITransport, extra: dict[str, Any]) -> None:
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
        return self.inner.read_messages()

    async def close(self) -> None:
        await self.inner.close()

    def is_ready(self) -> bool:
        return self.inner.is_ready()

    async def end_input(self) -> None:
        await self.inner.end_input()


async def _never() -> AsyncIterator[dict[str, Any]]:
    return
    yield {}


async def spawn(spec: Spec) -> Process:
    """A spare: the CLI running in the shared empty directory, nothing written to it."""
    cwd = shared_workdir(spec.work_root)
    process = Process(cwd, spec.config_dir, spec.key, time.monotonic(), idle_timeout=spec.idle_timeout, owns_cwd=False)
    try:
        transport = SubprocessCLITransport(prompt=_never(), options=spec.options(cwd))
        process.transport = transport
        await transport.connect()
        process.pid = pid_of(transport)
    except BaseException:
        await asyncio.shield(dispose(process))
        raise
    return process


def pid_of(running: object) -> int | None:
    """The pid of the CLI behind a connected client or a running transport (the SDK keeps it private)."""
    transport = getattr(running, "_transport", running)  # a ClaudeSDKClient holds its transport
    inner = getattr(transport, "inner", transport)  # our Initialise wraps a spare's
    pid = getattr(getattr(inner, "_process", None), "pid", None)
    return pid if isinstance(pid, int) else None


async def attach(process: Process, options: sdk.ClaudeAgentOptions, extra: dict[str, Any]) -> Client:
    """Initialise a spare for a request: a new client on its running transport."""
    assert process.transport is not None, "a spare holds its transport until it is initialised"
    client = sdk.ClaudeSDKClient(options, transport=Initialise(process.transport, extra))
    await client.connect()
    return client


async def connect(options: sdk.ClaudeAgentOptions) -> Client:
    """A process started for one request with all of its options (the cold path)."""
    client = sdk.ClaudeSDKClient(options)
    await client.connect()
    return client


async def control(client: Client, request: dict[str, Any]) -> dict[str, Any]:
    """A control request the SDK does not wrap, through its own request routing."""
    try:
        query = cast(sdk.ClaudeSDKClient, client)._query  # the SDK's router, set by connect()
        if query is None:
            raise RuntimeError("not connected")
        response = await query._send_control_request(request, timeout=CONTROL_TIMEOUT_SECONDS)
    except Exception as error:  # the SDK raises an error answer as a plain Exception
        raise ControlError(f"Claude Code refused {request.get('subtype')}: {error}") from None
    return response if isinstance(response, dict) else {}


async def dispose(process: Process) -> None:
    """Stop the process at once and remove its session files (and its directory, if its own)."""
    await stop(process.pids())
    closing = process.client.disconnect() if process.client is not None else None
    if closing is None and process.transport is not None:
        closing = process.transport.close()
    if closing is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(closing, timeout=DISPOSE_GRACE_SECONDS)
    _remove(process)


def abandon(process: Process) -> None:
    """``dispose`` without an event loop (gone, or exiting): kill the process, remove its files."""
    for pid in process.pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _remove(process)


def _remove(process: Process) -> None:
    forget_transcript(process)
    if process.owns_cwd:
        sessions.remove_project(process.config_dir, process.cwd)
        shutil.rmtree(process.cwd, ignore_errors=True)


def forget_transcript(process: Process) -> None:
    """Remove the session transcript it resumed, if any (the shared directory's other files stay)."""
    if process.transcript is not None:
        process.transcript.unlink(missing_ok=True)
        process.transcript = None


def rss_mib(process: Process) -> float:
    """The resident memory of the process (and its children) in MiB, from /proc."""
    total = 0
    for pid in process.pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0])
    return total / 1024


def log_stderr(line: str) -> None:
    logger.debug("claude: %s", line)
