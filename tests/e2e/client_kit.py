"""What every real-client test shares (issue 13): cached installs, an offline environment, a run.

Each client is installed once into a cached place of its own
(``~/.cache/litellm-claude-code/clients/<name>-<version>/``, honouring
``XDG_CACHE_HOME``), never into the project's venv, under a file lock so
parallel sessions do not install twice; an install that fails fails the test
with the installer's output. Each run has a temporary ``HOME``, no standard
input, a timeout, and every outside connection sent to a loopback port that
refuses it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from .harness import Proxy, free_port

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "litellm-claude-code" / "clients"
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 180
REFUSING_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, so every outside connection fails
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _output(out: Any) -> str:
    return out.decode(errors="replace") if isinstance(out, bytes) else out or ""


def install(
    name: str,
    packages: Sequence[str],
    steps: Sequence[Sequence[str]],
    target: Path,
    env: Mapping[str, str] | None = None,
    check: Any = None,
) -> None:
    """Run ``steps`` into ``target`` unless its stamp says ``packages`` are there; fail with their output if not.

    ``check()``, when given, runs after the steps and returns a problem (a
    string) or None: for a package whose postinstall links the real binary.
    """
    stamp = target / ".installed"
    spec = json.dumps(list(packages))
    with _locked(CACHE / f"{target.name}.lock"):
        if stamp.exists() and stamp.read_text() == spec:
            return
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        started = time.monotonic()
        for step in steps:
            try:
                done = subprocess.run(
                    list(step),
                    env=None if env is None else dict(env),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                pytest.fail(f"installing {name} failed: {' '.join(step)}: {error}", pytrace=False)
            if done.returncode != 0:
                pytest.fail(
                    f"installing {name} failed: {' '.join(step)} exited {done.returncode}\n"
                    f"{done.stdout[-8000:]}\n{done.stderr[-8000:]}",
                    pytrace=False,
                )
        problem = check() if check is not None else None
        if problem:
            pytest.fail(f"installing {name} failed: {problem}", pytrace=False)
        stamp.write_text(spec)
        print(f"installed {name} into {target} in {time.monotonic() - started:.0f}s")


def npm_install(name: str, package: str, target: Path, env: Mapping[str, str] | None = None, check: Any = None) -> None:
    """``npm install --prefix target package`` (node packages: npm's own cache stays where it is)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail(f"{name} is installed with npm: it needs node and npm on PATH", pytrace=False)
    step = [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", package]
    install(name, [package], [step], target, env, check)


def venv_install(name: str, pins: Sequence[str], target: Path) -> Path:
    """A venv of the system ``python3`` at ``target`` with ``pins`` installed; its python."""
    python3 = shutil.which("python3") or "python3"
    python = target / "bin" / "python"
    install(name, pins, [[python3, "-m", "venv", str(target)], [str(python), "-m", "pip", "install", *pins]], target)
    return python


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A client's whole environment: its own HOME, loopback reachable, every other connection refused."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **dict.fromkeys(PROXY_VARIABLES, REFUSING_PROXY),
        **extra,
    }


def run(
    what: str, command: Sequence[str], cwd: Path, env: Mapping[str, str], proxy: Proxy
) -> subprocess.CompletedProcess[str]:
    """Run a client to its end; a timeout or a failed exit fails the test with its output and the proxy's log."""
    try:
        done = subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        out, err = _output(error.stdout), _output(error.stderr)
        pytest.fail(f"{what} timed out:\n{out}\n{err}\nproxy log:\n{proxy.log_tail()}")
    if done.returncode != 0:
        pytest.fail(
            f"{what} exited {done.returncode}:\n{done.stdout[-8000:]}\n{done.stderr[-8000:]}\n"
            f"proxy log:\n{proxy.log_tail()}"
        )
    return done


class Recorder:
    """A pass-through in front of the proxy keeping each request a client sends and each answer it gets back."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, JSON body)
        self.answers: list[bytes] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="client-recorder", daemon=True)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append((request.path, json.loads(raw) if raw else {}))
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        url = self.upstream + request.path_qs
        # trust_env is off: straight to the proxy, whatever *_PROXY says
        async with ClientSession() as session, session.request(request.method, url, data=raw, headers=headers) as up:
            content_type = up.headers.get("content-type", "application/json")
            response = web.StreamResponse(status=up.status, headers={"content-type": content_type})
            await response.prepare(request)
            answer = b""
            async for piece in up.content.iter_any():  # passed on as it arrives, so a stream stays one
                answer += piece
                await response.write(piece)
            self.answers.append(answer)
            await response.write_eof()
            return response

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", free_port())
        await site.start()
        self.url = site.name.rstrip("/")

    def __enter__(self) -> Recorder:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
