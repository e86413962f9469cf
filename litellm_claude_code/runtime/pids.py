"""Finding and stopping Claude Code processes.

The SDK's own close waits up to five seconds for the CLI to finish its turn
after stdin closes, and a plain task cancellation can skip its escalation. A
request that is over (client gone, deadline passed, answer complete) must free
its process (hundreds of MiB, measured by ``scripts/bench``) at once, so it is
stopped: interrupt, then terminate, then kill. A process of the runtime is
known by its pid; a one-shot ``query()``'s, whose pid the SDK keeps to itself,
by what is unique to it, its own working directory. Linux ``/proc`` only;
elsewhere the SDK's close is all there is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
# (signal, seconds to wait for the process to go before the next one)
ESCALATION: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGINT, 0.3),
    (signal.SIGTERM, 0.5),
    (signal.SIGKILL, 0.5),
)


def _parent_of(pid_dir: Path) -> int | None:
    try:
        return int((pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _cwd_of(pid_dir: Path) -> str | None:
    try:
        return os.readlink(pid_dir / "cwd")
    except OSError:
        return None


def _is_running(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def children_in(cwd: str, parent: int | None = None) -> list[int]:
    """Live child processes of ``parent`` (default: this process) working in ``cwd``."""
    if not PROC.is_dir():
        return []
    parent = os.getpid() if parent is None else parent
    target = os.path.realpath(cwd)
    found = []
    for pid_dir in PROC.glob("[0-9]*"):
        if _parent_of(pid_dir) == parent and _cwd_of(pid_dir) == target and _is_running(int(pid_dir.name)):
            found.append(int(pid_dir.name))
    return found


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def _gone(pids: list[int], within: float) -> list[int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    alive = [p for p in pids if _is_running(p)]
    while alive and loop.time() < deadline:
        await asyncio.sleep(0.02)
        alive = [p for p in alive if _is_running(p)]
    return alive


def running(pids: Iterable[int]) -> list[int]:
    """The pids that still run (not gone, not zombies)."""
    return [pid for pid in pids if _is_running(pid)]


async def stop(pids: Iterable[int]) -> None:
    """Interrupt, terminate, then kill the processes, each step only those still running."""
    alive = running(pids)
    for sig, grace in ESCALATION:
        if not alive:
            return
        _signal_all(alive, sig)
        alive = await _gone(alive, grace)
