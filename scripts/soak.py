"""Soak of the stock proxy (issue 28): long agent sessions at once until time is up; fails on a crash.

Starts the test suite's mock Anthropic API and the stock proxy (as the end-to-end
tests do, with PYTHONFAULTHANDLER=1 and core dumps allowed), runs the sessions of
``tests/e2e/soak.py`` and prints what they did. A proxy that ends during a run is a
crash: its exit signal, its log's end (faulthandler's Python stack), the kernel's
``segfault`` lines and any core file are printed, and the exit status is 1.

    scripts/soak [--minutes 10] [--sessions 4] [--rounds 40] [--max-sessions N] [--runs 1] [--keep-going]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from tests.anthropic_mock import MockAnthropic
from tests.e2e.harness import ROOT, claude_env, run_proxy
from tests.e2e.soak import Plan, Soak, Tally, kernel_segfaults

# A start on a machine busy with other work can take minutes; the soak is about what comes after.
READY_WITHIN = 600.0


def allow_core_dumps() -> None:
    """Core files from the proxy (inherited by the processes this one starts)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def core_files(since: float) -> list[Path]:
    """Core files written since ``since`` in the proxy's working directory (kernel.core_pattern "core")."""
    return [p for p in ROOT.glob("core*") if p.is_file() and p.stat().st_mtime >= since]


def one_run(number: int, mock: MockAnthropic, plan: Plan) -> Tally:
    before = set(kernel_segfaults())
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        home = Path(folder)
        with run_proxy(home, claude_env(home, mock.url), ready_within=READY_WITHIN) as proxy:
            print(f"run {number}: proxy pid {proxy.process.pid} on {proxy.url}", flush=True)
            tally = asyncio.run(Soak(proxy, mock, plan).run())
            log = proxy.log_tail(80) if tally.crash else ""
    print(f"run {number}: {tally.line()}", flush=True)
    for error in tally.errors[:10]:
        print(f"  error: {error}", flush=True)
    if tally.crash:
        print(f"run {number}: CRASH: {tally.crash}\n--- proxy log (end) ---\n{log}\n---", flush=True)
        for line in sorted(set(kernel_segfaults()) - before):
            print(f"  kernel: {line}", flush=True)
        for core in core_files(started):
            print(f"  core file: {core} (gdb -batch -ex bt {Path(sys.executable).resolve()} {core})", flush=True)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="per run: new sessions start until then")
    parser.add_argument("--sessions", type=int, default=4, help="sessions at once")
    parser.add_argument("--rounds", type=int, default=40, help="tool rounds per session")
    parser.add_argument("--result-bytes", type=int, default=3000, help="size of each tool result")
    parser.add_argument("--disconnect-every", type=int, default=7, help="streamed rounds cut mid-stream (0: none)")
    parser.add_argument("--max-sessions", type=int, default=None, help="per run: start no more sessions than this")
    parser.add_argument("--runs", type=int, default=1, help="runs, each on a fresh proxy")
    parser.add_argument("--keep-going", action="store_true", help="go on with the next run after a crash")
    args = parser.parse_args()
    allow_core_dumps()
    plan = Plan(
        sessions=args.sessions,
        rounds=args.rounds,
        result_bytes=args.result_bytes,
        disconnect_every=args.disconnect_every,
        seconds=args.minutes * 60,
        max_sessions=args.max_sessions,
    )
    print(f"soak on Python {platform.python_version()} ({sys.executable}): {plan}", flush=True)
    totals = Tally()
    crashes = 0
    with MockAnthropic() as mock:
        for number in range(1, args.runs + 1):
            tally = one_run(number, mock, plan)
            mock.requests.clear()  # the mock keeps every request; a long soak has no use for them
            for name in (
                "requests",
                "streamed",
                "whole",
                "disconnects",
                "rounds",
                "sessions_started",
                "sessions_done",
                "seconds",
            ):
                setattr(totals, name, getattr(totals, name) + getattr(tally, name))
            totals.errors += tally.errors
            crashes += tally.crash is not None
            if tally.crash and not args.keep_going:
                break
    print(f"soak total: {totals.line()}, {crashes} crashes", flush=True)
    return 1 if crashes or totals.errors else 0


if __name__ == "__main__":
    sys.exit(main())
