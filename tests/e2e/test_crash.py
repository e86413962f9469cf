"""A proxy that dies anyway is never silent (issue 28): its Claude Code processes end with it and
its log says why.

The proxy is killed with SIGSEGV (what CPython 3.11's context-variable crash was)
while a turn is under way upstream: faulthandler (``PYTHONFAULTHANDLER=1``, set by
``scripts/run-proxy``, the image and the harness) writes every thread's Python
stack to the log, and every process the proxy started, the busy CLI and any spare,
ends (the kernel's parent-death signal, ``sdk_seam.guarded``), although the
upstream answer is still pending. A SIGKILL takes the same path in the kernel.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import pytest

from litellm_claude_code.runtime import pids
from tests.anthropic_mock import Gate, MockAnthropic, Reply
from tests.waiting import wait_until

from .harness import claude_env, cli_processes, descendants, run_proxy

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("fatal", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_a_crashed_proxy_leaves_no_claude_code_process_and_says_why(
    mock: MockAnthropic, tmp_path: Path, fatal: signal.Signals
) -> None:
    gate = Gate()
    mock.script(Reply(chunks=["Half", " an", " answer"], stall_after=1, gate=gate))
    with run_proxy(tmp_path, claude_env(tmp_path, mock.url)) as proxy:
        ended: list[BaseException] = []

        def ask() -> None:
            body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "stream": True}
            headers = {"Authorization": f"Bearer {proxy.master_key}"}
            url = f"{proxy.url}/v1/chat/completions"
            try:
                with httpx.stream("POST", url, json=body, headers=headers, timeout=120) as answer:
                    for _ in answer.iter_lines():
                        pass
            except httpx.TransportError as error:  # the proxy dies under the stream
                ended.append(error)

        client = threading.Thread(target=ask)
        client.start()
        started: set[int] = set()
        try:
            mock.wait_for_requests(1, timeout=120)  # the turn is under way upstream, held there
            busy = cli_processes(proxy.process.pid)
            assert busy, "no Claude Code process under the proxy"
            started = set(descendants(proxy.process.pid))
            proxy.process.send_signal(fatal)
            proxy.process.wait(30)
            assert proxy.ended() == f"proxy ended by {fatal.name}"
            wait_until(lambda: not pids.running(started), 15, "every process the proxy started to end with it")
            if fatal == signal.SIGSEGV:
                log = proxy.log.read_text(errors="replace")
                assert "Fatal Python error: Segmentation fault" in log
                assert "Current thread" in log  # the Python stack of the thread that crashed
        finally:
            gate.open()
            client.join(30)
            pids.kill(pids.running(started | set(descendants(proxy.process.pid))))
        assert ended, "the client's stream ended normally, not with the proxy"
