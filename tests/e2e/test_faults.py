"""Faults end to end: unreachable upstream, missing or dying CLI; the proxy keeps serving."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from collections.abc import Iterator
from itertools import takewhile
from pathlib import Path

import httpx
import pytest
import yaml

from tests.anthropic_mock import Gate, MockAnthropic, Reply
from tests.waiting import wait_until

from .harness import CONFIG, FAKE_OAUTH_TOKEN, Proxy, claude_env, free_port, run_proxy

pytestmark = pytest.mark.e2e


def _deployment(name: str, claude_code: dict[str, object]) -> dict[str, object]:
    return {
        "model_name": name,
        "litellm_params": {"model": "claude-code/sonnet"},
        "model_info": {"claude_code": claude_code},
    }


def _dying_cli(home: Path) -> Path:
    """A CLI wrapper that writes down the pid of each CLI it starts, for the test to kill it."""
    import claude_agent_sdk

    real = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    script = home / "dying-claude"
    # The CLI takes over this shell's pid (exec).
    script.write_text(f'#!/bin/sh\necho $$ >> "{home / "dying.pids"}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture(scope="module")
def faulty_proxy(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    home: Path = tmp_path_factory.mktemp("faulty-home")
    config = yaml.safe_load(CONFIG.read_text())
    config["model_list"] += [
        _deployment("unreachable", {"base_url": f"http://127.0.0.1:{free_port()}", "max_retries": 0, "pool_size": 0}),
        _deployment("no-binary", {"cli_path": str(home / "no-such-claude"), "pool_size": 0}),
        _deployment("dying", {"cli_path": str(_dying_cli(home)), "pool_size": 0}),
    ]
    path = home / "faulty.yaml"
    path.write_text(yaml.safe_dump(config))
    with run_proxy(home, claude_env(home, mock.url), config=path) as running:
        yield running


def _post(proxy: Proxy, model: str, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], **extra},
        timeout=60,
    )


def test_unreachable_upstream_is_a_clear_5xx(faulty_proxy: Proxy) -> None:
    started = time.monotonic()
    response = _post(faulty_proxy, "unreachable")
    assert response.status_code == 502, response.text
    assert time.monotonic() - started < 30
    assert _post(faulty_proxy, "sonnet").status_code == 200  # and the next request is served


def test_missing_binary_is_503(faulty_proxy: Proxy) -> None:
    response = _post(faulty_proxy, "no-binary")
    assert response.status_code == 503, response.text
    assert "not found" in response.text


def _running_dying_clis(home: Path) -> list[int]:
    """The CLIs the dying wrapper started that still run (not exited, nor exited and unreaped)."""
    pids = [int(line) for line in (home / "dying.pids").read_text().split()]
    return [pid for pid in pids if _state(pid) not in (None, "Z")]


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_cli_killed_mid_stream_ends_the_stream_with_an_error(faulty_proxy: Proxy, mock: MockAnthropic) -> None:
    # The answer's first chunk, then the model holds the rest until the test opens the gate: the
    # CLI dies with its turn under way, whatever the machine's pace.
    gate = Gate()
    mock.script(Reply(chunks=[f"part{i} " for i in range(40)], stall_after=1, gate=gate))
    headers = {"Authorization": f"Bearer {faulty_proxy.master_key}"}
    body = {"model": "dying", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    try:
        with httpx.stream(
            "POST", f"{faulty_proxy.url}/v1/chat/completions", headers=headers, json=body, timeout=60
        ) as response:
            lines = response.iter_lines()
            before = list(takewhile(lambda line: "part0" not in line, lines))  # up to the first content
            [cli] = _running_dying_clis(faulty_proxy.home)  # the turn's CLI, mid-answer
            os.kill(cli, signal.SIGKILL)
            after = list(lines)
    finally:
        gate.open()
    assert response.status_code == 200  # the stream had begun: the error comes in it
    assert not any("error" in line for line in before)
    events = [json.loads(line.removeprefix("data: ")) for line in after if line.startswith("data: {")]
    errors = [event["error"] for event in events if "error" in event]
    assert len(errors) == 1, after
    [error] = errors
    # A 502 naming what failed: Claude Code's process, killed (SIGKILL: exit code -9).
    assert error["code"] == "502", error
    assert "Claude Code failed" in error["message"], error
    assert "exit code -9" in error["message"], error
    # and the killed CLI is gone (reaped, not left a zombie), with no other started in its place
    wait_until(lambda: _state(cli) is None, 5, f"the killed CLI {cli} to be reaped")
    assert _running_dying_clis(faulty_proxy.home) == []
    assert _post(faulty_proxy, "sonnet").status_code == 200  # and the proxy goes on serving


def test_secrets_stay_out_of_logs_and_errors(faulty_proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(*[Reply(status=401, error_type="authentication_error", error_message="invalid token")] * 4)
    error = _post(faulty_proxy, "opus")
    _post(faulty_proxy, "no-binary")
    health = httpx.get(f"{faulty_proxy.url}/health/liveliness", timeout=10)
    log = faulty_proxy.log.read_text(errors="replace")
    for secret in (FAKE_OAUTH_TOKEN, faulty_proxy.master_key):
        assert secret not in log
        assert secret not in error.text
        assert secret not in health.text
    assert os.environ.get("CLAUDE_CODE_OAUTH_TOKEN", "x-unset") not in log
