"""Claude Code processes seen through ``/proc``: running or not, their memory, the CPU, stopping them.

The SDK's own close waits up to five seconds for the CLI to finish its turn
after stdin closes, and a plain task cancellation can skip its escalation. A
request that is over (client gone, deadline passed, answer complete) must free
its process (hundreds of MiB, measured by ``scripts/bench``) at once, so it is
stopped by its pid: interrupt, then terminate, then kill. Linux ``/proc`` only;
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


def _is_running(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


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


def kill(pids: Iterable[int]) -> None:
    """Kill the processes at once (no event loop to wait in)."""
    _signal_all(pids, signal.SIGKILL)


def rss_mib(pids: Iterable[int]) -> float:
    """The resident memory of the processes in MiB."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = (PROC / str(pid) / "status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0])
    return total / 1024


def cpu_ticks() -> tuple[int, int]:
    """The machine's CPU ticks so far: (all, idle and iowait)."""
    fields = [int(f) for f in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)
