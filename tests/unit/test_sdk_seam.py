"""The SDK's private surface, in one module (issue 22): what it relies on is pinned here."""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import pytest
from claude_agent_sdk._internal.query import Query
from claude_agent_sdk._internal.transport import Transport

from litellm_claude_code import sdk_seam
from litellm_claude_code.runtime import pids
from litellm_claude_code.sdk_seam import ControlError, Initialise
from tests.waiting import wait_until

from .runtime.fakes import FakeTransport

ROOT = Path(__file__).resolve().parents[2]


def test_the_sdk_seams_the_runtime_relies_on_are_as_pinned() -> None:
    # rewind_conversation, set_model's system_prompt and apply_flag_settings go
    # through the SDK's private control-request routing, and a spare through a
    # custom Transport: an SDK upgrade must be checked against the CLI again.
    assert sdk.__version__ == "0.2.188"
    assert list(inspect.signature(Query._send_control_request).parameters) == ["self", "request", "timeout"]
    assert {name for name in Transport.__abstractmethods__} == {
        "connect",
        "write",
        "read_messages",
        "close",
        "is_ready",
        "end_input",
    }
    assert "transport" in inspect.signature(sdk.ClaudeSDKClient).parameters
    assert issubclass(sdk_seam.MessageParseError, sdk.ClaudeSDKError)


def test_the_pid_is_read_through_a_client_and_our_wrapper() -> None:
    class Running:
        pid = 4242

    class Inner:
        _process = Running()

    class Client:
        _transport = Initialise(Inner(), {})  # type: ignore[arg-type]  # only its _process is read

    assert sdk_seam.pid_of(Inner()) == 4242
    assert sdk_seam.pid_of(Client()) == 4242
    assert sdk_seam.pid_of(object()) is None


def test_a_control_request_on_a_client_that_is_not_connected_is_a_control_error() -> None:
    client = sdk.ClaudeSDKClient(sdk.ClaudeAgentOptions())
    with pytest.raises(ControlError, match="refused set_model: not connected"):
        asyncio.run(sdk_seam.control(client, {"subtype": "set_model"}))


def test_a_refused_control_request_is_a_control_error() -> None:
    class Router:
        async def _send_control_request(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
            raise Exception("unknown subtype")  # how the SDK raises an error answer

    client = sdk.ClaudeSDKClient(sdk.ClaudeAgentOptions())
    client._query = Router()  # the SDK's router, as connect() sets it
    with pytest.raises(ControlError, match="refused rewind_conversation: unknown subtype"):
        asyncio.run(sdk_seam.control(client, {"subtype": "rewind_conversation"}))


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


def test_a_guarded_process_ends_when_the_process_that_started_it_is_killed() -> None:
    # The CLI's command as the runtime starts it: a proxy killed outright (a crash) takes it along.
    starter = (
        "import subprocess, sys\n"
        "from litellm_claude_code.sdk_seam import guarded\n"
        "child = subprocess.Popen(guarded(['sleep', '120']))\n"
        "print(child.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", starter], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    try:
        # The guard has exec'd the command (same pid) once its command line is sleep's.
        wait_until(lambda: Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"), 10, "sleep to run")
        parent.kill()
        parent.wait()
        wait_until(lambda: not pids.running([pid]), 10, "the guarded process to end with its parent")
    finally:
        pids.kill([pid])
        parent.kill()
        parent.wait()


def test_a_missing_cli_is_left_to_the_sdk_to_name(tmp_path: Path) -> None:
    options = sdk.ClaudeAgentOptions(cli_path=str(tmp_path / "no-such-claude"))
    transport = sdk_seam.GuardedTransport(prompt=sdk_seam._never(), options=options)
    assert transport._build_command()[0] == str(tmp_path / "no-such-claude")
    options = sdk.ClaudeAgentOptions(cli_path="/bin/true")
    transport = sdk_seam.GuardedTransport(prompt=sdk_seam._never(), options=options)
    command = transport._build_command()
    assert command[:3] == [sys.executable, "-I", "-S"]
    assert command[6] == "/bin/true"
