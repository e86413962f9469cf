"""One process: its one close (the process, its pipe, its transcript), with or without a loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from litellm_claude_code.runtime import sessions
from litellm_claude_code.runtime.process import Process

from .fakes import FakeClient, FakeTransport


def held(tmp_path: Path, client: FakeClient | None = None, transport: FakeTransport | None = None) -> Process:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    session = sessions.write_history([{"role": "user", "content": "hi"}], tmp_path, str(cwd))
    assert session is not None
    process = Process(str(cwd), str(tmp_path), "k", 0.0, client=client, transport=transport)
    process.transcript = sessions.transcript_path(tmp_path, str(cwd), session)
    (cwd / "other").write_text("another process's")  # the shared directory's other files stay
    return process


@pytest.mark.parametrize("holds", ["client", "transport"])
def test_aclose_lets_go_of_the_process_and_removes_its_transcript_once(tmp_path: Path, holds: str) -> None:
    client, transport = FakeClient(), FakeTransport()
    process = held(tmp_path, client=client) if holds == "client" else held(tmp_path, transport=transport)
    transcript = process.transcript
    assert transcript is not None
    assert transcript.exists()
    asyncio.run(process.aclose())
    assert client.disconnected is (holds == "client")
    assert transport.closed is (holds == "transport")
    assert not transcript.exists()
    assert (Path(process.cwd) / "other").exists()
    assert process.closed
    client.disconnected = transport.closed = False
    asyncio.run(process.aclose())  # a second close does nothing
    assert not (client.disconnected)
    assert not (transport.closed)


def test_kill_removes_the_transcript_without_a_loop(tmp_path: Path) -> None:
    process = held(tmp_path)
    transcript = process.transcript
    process.kill()
    assert transcript is not None
    assert not transcript.exists()
    assert process.closed
