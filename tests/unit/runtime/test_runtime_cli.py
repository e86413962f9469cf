"""The runtime on real processes of a small fake CLI (tests/unit/runtime/fake_cli.py): the SDK's own
transport and client, our Initialise wrapper and control requests, deadlines and cancellation,
in-process and without the real Claude Code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code.request import ChatRequest
from litellm_claude_code.runtime import runtime as rt
from litellm_claude_code.runtime.runner import QueryTimeout
from litellm_claude_code.runtime.workspace import SHARED_WORKDIR
from litellm_claude_code.settings import DeploymentSettings
from litellm_claude_code.translate.params import controls_from
from litellm_claude_code.translate.prompt import convert

FAKE_CLI = str(Path(__file__).with_name("fake_cli.py"))


def request(tmp_path: Path, text: str, system: str = "Be terse.", timeout: float = 20.0) -> ChatRequest:
    settings = DeploymentSettings(cli_path=FAKE_CLI, pool_size=1, work_root=str(tmp_path / "work"))
    env = {"PATH": os.environ["PATH"], "FAKE_CLI_LOG": str(tmp_path / "cli.log"), "HOME": str(tmp_path)}
    messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
    return ChatRequest("sonnet", settings, convert(messages), controls_from({}), timeout, env, str(tmp_path), "d")


def logged(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "cli.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def work_left(tmp_path: Path) -> list[str]:
    """What is left under the work root: the shared directory the processes ran in stays, empty."""
    work = tmp_path / "work"
    shared = work / SHARED_WORKDIR
    assert not shared.exists() or list(shared.iterdir()) == []
    return sorted(set(os.listdir(work)) - {SHARED_WORKDIR}) if work.exists() else []


async def _drain(runtime: rt.Runtime, chat: ChatRequest, reply: str | None) -> list[Any]:
    async with runtime.turn(chat) as turn:
        async with contextlib.aclosing(turn.messages()) as messages:
            served = [m async for m in messages]
        turn.hold(None if reply is None else [{"type": "text", "text": reply}])
    return served


def _delta(message: Any) -> bool:
    return bool(getattr(message, "event", {}).get("type") == "content_block_delta")


def test_a_spare_is_initialised_with_the_requests_system_prompt_and_reused_after_a_rewind(tmp_path: Path) -> None:
    async def scenario() -> None:
        runtime = rt.Runtime(spares=False)
        first = request(tmp_path, "hello", system="First prompt.")
        await runtime.prewarm(first, 1)
        await _drain(runtime, first, "fake answer")
        await _drain(runtime, request(tmp_path, "again", system="Second prompt."), None)
        await runtime.close()

    asyncio.run(scenario())
    entries = logged(tmp_path)
    assert len([e for e in entries if e.get("start")]) == 1  # one process served both conversations
    controls = [e["request"] for e in entries if e.get("type") == "control_request"]
    assert controls[0]["subtype"] == "initialize"
    assert controls[0]["systemPrompt"] == ["First prompt."]
    first_uuid = next(e["uuid"] for e in entries if e.get("type") == "user")
    assert controls[1] == {
        "subtype": "rewind_conversation",
        "target_message_uuid": first_uuid,
        "last_seen_user_message_uuid": first_uuid,
    }
    assert controls[2] == {"subtype": "set_model", "model": "sonnet", "system_prompt": "Second prompt."}
    assert work_left(tmp_path) == []


def test_a_turn_past_its_deadline_stops_the_process_and_removes_its_directory(tmp_path: Path) -> None:
    async def scenario() -> float:
        runtime = rt.Runtime(spares=False)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(QueryTimeout) as passed:
            await _drain(runtime, request(tmp_path, "hang", timeout=1.5), "never")
        assert passed.value.seconds == 1.5  # the turn's deadline names the request's time
        elapsed = loop.time() - started
        await runtime.close()
        return elapsed

    elapsed = asyncio.run(scenario())
    assert 1.4 <= elapsed < 4  # one deadline for starting the process and the turn
    [start] = [e for e in logged(tmp_path) if e.get("start")]
    assert not running(start["pid"])
    assert work_left(tmp_path) == []


def test_a_consumer_that_goes_away_mid_stream_stops_the_process(tmp_path: Path) -> None:
    async def scenario() -> None:
        runtime = rt.Runtime(spares=False)
        loop = asyncio.get_running_loop()
        async with runtime.turn(request(tmp_path, "slow")) as turn:
            messages = turn.messages()
            async for message in messages:
                if _delta(message):
                    break
            started = loop.time()
            await messages.aclose()  # what LiteLLM does when the client disconnects
        assert loop.time() - started < 2
        assert runtime.processes() == []
        await runtime.close()

    asyncio.run(scenario())
    [start] = [e for e in logged(tmp_path) if e.get("start")]
    assert not running(start["pid"])
    assert work_left(tmp_path) == []


def test_close_stops_every_process_busy_ones_included(tmp_path: Path) -> None:
    """Issue 22: the runtime holds busy processes too, so shutdown reaches them."""

    async def scenario() -> int:
        runtime = rt.Runtime(spares=False)
        chat = request(tmp_path, "slow")
        async with runtime.turn(chat) as turn, contextlib.aclosing(turn.messages()) as messages:
            async for message in messages:
                if _delta(message):  # the process is busy answering
                    [process] = runtime.processes()
                    assert process.pid is not None
                    assert running(process.pid)
                    await runtime.close()
                    assert not running(process.pid)
                    assert runtime.processes() == []
                    return process.pid
        raise AssertionError("the answer never began")

    pid = asyncio.run(scenario())
    assert not running(pid)
    assert work_left(tmp_path) == []
