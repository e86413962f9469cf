"""pids: a process is stopped by its pid, by escalation, and nothing else is."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from litellm_claude_code.runtime.pids import running, stop


def _child(cwd: Path, ignores: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """A child of this process working in ``cwd``, ignoring ``ignores``, ready once it has said so."""
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    code += "".join(f"signal.signal(signal.{name}, signal.SIG_IGN)\n" for name in ignores)
    # then it waits for signals (one it ignores does not end the wait), until stopped or killed
    code += "print('ready', flush=True)\nwhile True:\n    signal.pause()\n"
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
def test_the_process_is_stopped_by_escalation_and_nothing_else(
    tmp_path: Path, ignores: tuple[str, ...], ended_by: signal.Signals
) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    target, bystander = _child(mine, ignores), _child(other)
    try:
        assert running([target.pid, bystander.pid]) == [target.pid, bystander.pid]
        asyncio.run(stop([target.pid]))
        assert target.wait(timeout=5) == -ended_by
        assert bystander.poll() is None
        assert running([target.pid, bystander.pid]) == [bystander.pid]
    finally:
        for child in (target, bystander):
            child.kill()
            child.wait()
