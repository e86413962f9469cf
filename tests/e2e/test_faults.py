"""Faults end to end: unreachable upstream, missing or dying CLI; the proxy keeps serving."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import CONFIG, FAKE_OAUTH_TOKEN, Proxy, claude_env, free_port, run_proxy

pytestmark = pytest.mark.e2e


def _deployment(name: str, claude_code: dict[str, object]) -> dict[str, object]:
    return {
        "model_name": name,
        "litellm_params": {"model": "claude-code/sonnet"},
        "model_info": {"claude_code": claude_code},
    }


def _dying_cli(home: Path) -> Path:
    """A CLI wrapper that kills the real CLI once the answer has started streaming."""
    import claude_agent_sdk

    real = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    script = home / "dying-claude"
    # The killer runs beside the CLI, which takes over this shell's pid (exec).
    killer = "(sleep 2.5; kill -9 $$) >/dev/null 2>&1 </dev/null &"
    script.write_text(f'#!/bin/sh\n{killer}\nexec "{real}" "$@"\n')
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


def test_cli_killed_mid_stream_ends_the_stream_with_an_error(faulty_proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=[f"part{i} " for i in range(40)], delay=0.15))
    headers = {"Authorization": f"Bearer {faulty_proxy.master_key}"}
    body = {"model": "dying", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{faulty_proxy.url}/v1/chat/completions", headers=headers, json=body, timeout=60) as r:
        text = "".join(r.iter_text())
    assert "part0" in text
    assert "error" in text.lower()
    assert _post(faulty_proxy, "sonnet").status_code == 200


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
