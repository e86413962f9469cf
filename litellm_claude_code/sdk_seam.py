"""The one seam to the Claude Agent SDK's private surface, and the typed shapes the runtime uses of it.

Everything the project takes from ``claude_agent_sdk`` beyond its public API is
here: its CLI transport (a spare is a transport started with nothing written to
it), the wrapper that adds the request's system prompt and MCP server to the
SDK's own ``initialize``, control requests the SDK does not wrap
(``rewind_conversation``, ``set_model`` with a system prompt,
``apply_flag_settings``), the pid of a running CLI, and an error class it does
not re-export. The SDK is pinned; ``tests/unit/test_sdk_seam.py`` fails on an
upgrade that changes any of it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import claude_agent_sdk as sdk
from claude_agent_sdk._errors import MessageParseError  # raised by the SDK, not re-exported
from claude_agent_sdk._internal.transport import Transport
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

__all__ = [
    "CLITransport",
    "Client",
    "ControlError",
    "Initialise",
    "MessageParseError",
    "Seam",
    "attach",
    "connect",
    "control",
    "guarded",
    "open_transport",
    "pid_of",
]

CONTROL_TIMEOUT_SECONDS = 10.0


class Client(Protocol):
    """A connected ``ClaudeSDKClient``: the turn is sent, its messages read, the process let go."""

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None: ...

    def receive_response(self) -> AsyncIterator[sdk.Message]: ...

    async def disconnect(self) -> None: ...


class CLITransport(Protocol):
    """A running CLI's stream-json pipe (the SDK's ``SubprocessCLITransport``)."""

    async def connect(self) -> None: ...

    async def write(self, data: str) -> None: ...

    def read_messages(self) -> AsyncIterator[dict[str, Any]]: ...

    async def close(self) -> None: ...

    def is_ready(self) -> bool: ...

    async def end_input(self) -> None: ...


class ControlError(sdk.ProcessError):
    """The CLI answered a control request otherwise than expected: the process is discarded."""


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


# Linux's PR_SET_PDEATHSIG: the kernel sends the child SIGKILL when the thread that started it
# ends, so a proxy that dies (a crash, SIGKILL, the OOM killer) takes its Claude Code processes
# with it. A CLI left behind keeps its turn going (measured: a busy one outlived a killed proxy,
# stdin closed, until killed), and the SDK starts the CLI with no hook in the child. So the
# command starts with a few lines of Python, in this interpreter, that set it and exec the CLI
# (same pid): ``argv[1]`` is the proxy's pid, and a child whose parent is already gone exits.
PR_SET_PDEATHSIG = 1
_ORPHAN_GUARD = (
    "import ctypes, os, signal, sys\n"
    f"ctypes.CDLL(None, use_errno=True).prctl({PR_SET_PDEATHSIG}, signal.SIGKILL, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def guarded(command: list[str]) -> list[str]:
    """``command`` run so that it ends with this process (Linux); unchanged elsewhere."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-I", "-S", "-c", _ORPHAN_GUARD, str(os.getpid()), *command]


class GuardedTransport(SubprocessCLITransport):
    """The SDK's CLI transport, its process started under ``guarded``."""

    def _build_command(self) -> list[str]:
        command = super()._build_command()
        # A CLI that is not there is left to the SDK's own start, which names it (CLINotFoundError).
        return guarded(command) if shutil.which(command[0]) else command


async def open_transport(options: sdk.ClaudeAgentOptions) -> CLITransport:
    """The CLI started with ``options`` and nothing written to it (a spare)."""
    transport = GuardedTransport(prompt=_never(), options=options)
    await transport.connect()
    return transport


async def attach(transport: CLITransport, options: sdk.ClaudeAgentOptions, extra: dict[str, Any]) -> Client:
    """A new client on a spare's running transport, its ``initialize`` carrying ``extra``."""
    client = sdk.ClaudeSDKClient(options, transport=Initialise(transport, extra))
    await client.connect()
    return client


async def connect(options: sdk.ClaudeAgentOptions) -> Client:
    """The CLI started with all of ``options`` and connected (the cold path)."""
    client = sdk.ClaudeSDKClient(options, transport=GuardedTransport(prompt=_never(), options=options))
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


def pid_of(running: object) -> int | None:
    """The pid of the CLI behind a connected client or a running transport (the SDK keeps it private)."""
    transport = getattr(running, "_transport", running)  # a ClaudeSDKClient holds its transport
    inner = getattr(transport, "inner", transport)  # our Initialise wraps a spare's
    pid = getattr(getattr(inner, "_process", None), "pid", None)
    return pid if isinstance(pid, int) else None


@dataclass(frozen=True)
class Seam:
    """How processes are started and talked to: the SDK's (default), or a test's fakes."""

    open: Callable[[sdk.ClaudeAgentOptions], Awaitable[CLITransport]] = open_transport
    attach: Callable[[CLITransport, sdk.ClaudeAgentOptions, dict[str, Any]], Awaitable[Client]] = attach
    connect: Callable[[sdk.ClaudeAgentOptions], Awaitable[Client]] = connect
    control: Callable[[Client, dict[str, Any]], Awaitable[dict[str, Any]]] = control
    pid: Callable[[object], int | None] = pid_of
