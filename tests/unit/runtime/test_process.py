"""One process: the initialize our transport completes, and the one close (process and session files)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from litellm_claude_code.runtime import sessions
from litellm_claude_code.runtime.process import Process
from litellm_claude_code.sdk_seam import Initialise

from .fakes import FakeClient, FakeTransport


def initialize(request_id: str) -> str:
    return json.dumps({"type": "control_request", "request_id": request_id, "request": {"subtype": "initialize"}})


def test_the_first_initialize_carries_the_extra_fields_and_nothing_else_changes() -> None:
    inner = FakeTransport()
    transport = Initialise(inner, {"systemPrompt": ["Be kind."]})
    user = json.dumps({"type": "user", "message": {"role": "user", "content": "initialize"}})
    for data in (user, initialize("1"), initialize("2")):
        asyncio.run(transport.write(data))
    first, once, twice = inner.written
    assert first == user  # a frame that merely mentions it passes as it is
    assert json.loads(once)["request"] == {"subtype": "initialize", "systemPrompt": ["Be kind."]}
    assert once.endswith("\n")
    assert twice == initialize("2")  # only the first initialize: the CLI ignores a later one's prompt


def test_the_wrapper_passes_the_rest_of_the_transport_through() -> None:
    inner = FakeTransport()
    transport = Initialise(inner, {})
    assert transport.is_ready()
    asyncio.run(transport.close())
    assert inner.closed
    assert not transport.is_ready()


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
