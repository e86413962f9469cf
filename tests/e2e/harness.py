"""Processes for end-to-end tests: the stock LiteLLM proxy on the repo's config."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.waiting import TimedOut, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "litellm_config.yaml"
FAKE_OAUTH_TOKEN = "sk-ant-oat01-e2e-fake-oauth-token"
# Importing the proxy alone took 72 s of wall time on a 2-core machine at load 15 (user time 11 s):
# a start is allowed that much and more before it counts as failed.
READY_WITHIN = 240.0
DECOY_API_KEY = "sk-ant-api03-must-not-be-used"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def claude_env(home: Path, base_url: str) -> dict[str, str]:
    """What the CLI needs to talk to the mock with a fake subscription login."""
    return {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        "CLAUDE_CODE_OAUTH_TOKEN": FAKE_OAUTH_TOKEN,
        "ANTHROPIC_API_KEY": DECOY_API_KEY,  # must be ignored by oauth deployments
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


@dataclass
class Proxy:
    url: str
    master_key: str
    log: Path
    process: subprocess.Popen[bytes]
    home: Path

    @property
    def workdirs(self) -> list[Path]:
        """Working directories of this proxy's Claude Code processes that still exist."""
        return list((self.home / "tmp").glob("claude-code-*"))

    def log_tail(self, lines: int = 60) -> str:
        """The end of the proxy's log, headed by how the proxy ended if it is no longer running."""
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return f"{self.ended()}\n{tail}" if self.process.poll() is not None else tail

    def ended(self) -> str:
        """How the proxy process ended: its exit code, or the signal that ended it."""
        code = self.process.poll()
        if code is None:
            return "proxy running"
        return f"proxy ended by {signal.Signals(-code).name}" if code < 0 else f"proxy exited with {code}"


def post_chat(proxy: Proxy, model: str, messages: list[dict[str, Any]] | None = None, **extra: Any) -> httpx.Response:
    """One non-streamed chat completion with the master key; ``extra`` joins the request body."""
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json={"model": model, "messages": messages or [{"role": "user", "content": "Say hello."}], **extra},
        timeout=60,
    )


def serving(url: str) -> bool:
    """Whether a LiteLLM proxy answers its liveness probe at ``url``."""
    try:
        return httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_ready(proxy: Proxy, within: float) -> None:
    def ready() -> bool:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"proxy did not start:\n{proxy.log_tail()}")
        return serving(proxy.url)

    try:
        wait_until(ready, within, "the proxy to serve", interval=0.25)
    except TimedOut:
        raise RuntimeError(f"proxy did not become ready:\n{proxy.log_tail()}") from None


@contextmanager
def run_proxy(
    home: Path,
    env: dict[str, str],
    config: Path = CONFIG,
    master_key: str | None = None,
    ready_within: float = READY_WITHIN,
) -> Iterator[Proxy]:
    """The stock ``litellm`` proxy started the way the README says, on a free port.

    ``master_key`` defaults to a fresh random one; replicas of one deployment share theirs.
    ``ready_within``: seconds it may take to serve.
    """
    port = free_port()
    master_key = master_key or f"sk-{secrets.token_urlsafe(24)}"
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CLAUDE_CODE_OAUTH_TOKEN")}
    full_env.update(env)
    tmp = home / "tmp"  # this proxy's own temporary directory, to see exactly what it leaves
    tmp.mkdir(exist_ok=True)
    full_env.update(
        {
            "LITELLM_MASTER_KEY": master_key,
            "PYTHONPATH": str(ROOT),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "TMPDIR": str(tmp),
            # a proxy that crashes (a fatal signal in native code) leaves its Python stack in its log
            "PYTHONFAULTHANDLER": "1",
        }
    )
    log = home / f"proxy-{port}.log"
    litellm_bin = Path(sys.executable).parent / "litellm"
    command = [str(litellm_bin), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=sink, stderr=subprocess.STDOUT)
    proxy = Proxy(f"http://127.0.0.1:{port}", master_key, log, process, home)
    try:
        _wait_ready(proxy, ready_within)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def module_proxy(name: str, why: str) -> Any:
    """A module-scoped ``proxy`` fixture: a proxy of the module's own, for ``why``, on the shared mock."""

    @pytest.fixture(scope="module")
    def proxy(mock: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
        home = tmp_path_factory.mktemp(f"{name}-home")
        with run_proxy(home, claude_env(home, mock.url)) as running:
            yield running

    proxy.__doc__ = why
    return proxy


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    found, frontier = [], [pid]
    while frontier:
        kids = _children(frontier.pop())
        found += kids
        frontier += kids
    return found


def cli_processes(pid: int) -> list[int]:
    """Claude Code CLI processes started (directly or not) by ``pid``."""
    result = []
    for child in descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"claude" in cmdline and state != "Z":
            result.append(child)
    return result


def runtime_processes(proxy: Proxy) -> dict[str, int]:
    """The proxy runtime's Claude Code processes by state (busy, idle, spare, starting), from its /metrics."""
    response = httpx.get(f"{proxy.url}/metrics/", headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=30)
    response.raise_for_status()
    return {
        sample.labels["state"]: int(sample.value)
        for family in text_string_to_metric_families(response.text)
        if family.name == "claude_code_processes"
        for sample in family.samples
    }


def settled_cli_processes(proxy: Proxy, within: float = 30.0) -> set[int]:
    """The CLI processes under the proxy once its runtime has settled: no start under way, and every
    CLI process one the runtime holds (none still being stopped, none of a request outside it)."""

    def settled() -> tuple[set[int]] | None:
        counts = runtime_processes(proxy)
        running = set(cli_processes(proxy.process.pid))
        held = sum(counts.get(state, 0) for state in ("busy", "idle", "spare"))
        return (running,) if counts.get("starting", 0) == 0 and len(running) == held else None

    (running,) = wait_until(settled, within, "the proxy's Claude Code processes to settle")
    return running


def wait_until_gone(pid: int, targets: set[int], within: float) -> set[int]:
    """Poll until none of ``targets`` runs under ``pid``; those still running at the end."""
    with suppress(TimedOut):
        wait_until(lambda: not targets & set(cli_processes(pid)), within, f"{sorted(targets)} to end")
    return targets & set(cli_processes(pid))
