"""A Docker engine for the container tests: Debian's packages installed where missing, a
``dockerd`` started where none runs (and stopped again by whoever started it), or the reason
why none can run, for the tests to skip with."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import TimedOut, wait_until

# The tools the container tests use and the Debian packages that bring them.
PACKAGES = {"dockerd": "docker.io", "docker": "docker.io", "mmdebstrap": "mmdebstrap"}


class NoEngine(Exception):
    """No Docker engine can run here; the message says why."""


def _ok(command: list[str], timeout: float = 30) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_command() -> list[str] | None:
    """Compose v2 (the docker plugin) where installed, else Debian's docker-compose 1.29 (same file)."""
    if shutil.which("docker") and _ok(["docker", "compose", "version"]):
        return ["docker", "compose"]
    binary = shutil.which("docker-compose")
    return [binary] if binary else None


def _apt_install(packages: list[str]) -> None:
    if not packages:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise NoEngine(f"needs {', '.join(packages)} (Debian packages); not root or no apt-get to install them")
    install = ["apt-get", "install", "-y", "-q", *packages]
    if not _ok(install, timeout=600):
        _ok(["apt-get", "update", "-q"], timeout=600)
        done = subprocess.run(install, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise NoEngine(f"apt-get install {' '.join(packages)} failed: {done.stderr.strip()[-500:]}")


@dataclass
class Engine:
    """A running Docker engine; ``process`` is the dockerd this test run started, if any."""

    process: subprocess.Popen[bytes] | None
    log: Path | None

    def stop(self) -> None:
        """Stop the dockerd this run started (and the containerd it runs); leave any other alone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def ensure_engine(log: Path) -> Engine:
    """The Docker engine, installed and started if need be; raises NoEngine with the reason."""
    missing = sorted({package for tool, package in PACKAGES.items() if shutil.which(tool) is None})
    if compose_command() is None:
        missing.append("docker-compose")
    _apt_install(missing)
    if compose_command() is None:
        raise NoEngine("no docker compose after installing docker-compose")
    if _ok(["docker", "info"]):
        return Engine(None, None)
    if os.geteuid() != 0:
        raise NoEngine("no Docker engine answers and only root can start dockerd here")
    # No default bridge and no iptables rules: the tests run every container on the host's network.
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["dockerd", "--bridge=none", "--iptables=false"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine = Engine(process, log)

    def answers() -> bool:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise NoEngine(f"dockerd exited with {process.returncode}: " + " | ".join(tail))
        return _ok(["docker", "info"], timeout=10)

    try:
        wait_until(answers, 60, "dockerd to answer", interval=0.5)
    except TimedOut:
        engine.stop()
        raise NoEngine("dockerd did not answer within 60 s: " + log.read_text(errors="replace")[-500:]) from None
    return engine
