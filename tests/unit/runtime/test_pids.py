"""pids: a request's process is found by its working directory and stopped by escalation."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from litellm_claude_code.runtime.pids import children_in, stop


def _child(cwd: Path, ignores: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """A child of this process working in ``cwd``, ignoring ``ignores``, ready once it has said so."""
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    code += "".join(f"signal.signal(signal.{name}, signal.SIG_IGN)\n" for name in ignores)
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    return child


@pytest.mark.parametrize(
    ("ignores", "ended_by"),
    [
        ((), signal.SIGINT),  # the interrupt is enough
        (("SIGINT",), signal.SIGTERM),
        (("SIGINT", "SIGTERM"), signal.SIGKILL),
    ],
)
def test_what_runs_in_the_directory_is_stopped_and_nothing_else(
    tmp_path: Path, ignores: tuple[str, ...], ended_by: signal.Signals
) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    target, bystander = _child(mine, ignores), _child(other)
    try:
        assert children_in(str(mine)) == [target.pid]
        asyncio.run(stop(children_in(str(mine))))
        assert target.wait(timeout=5) == -ended_by
        assert bystander.poll() is None
        assert children_in(str(mine)) == []
    finally:
        for child in (target, bystander):
            child.kill()
            child.wait()
