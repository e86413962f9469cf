"""A request's own empty working directory, and everything removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import sessions

WORKDIR_PREFIX = "claude-code-req-"


def new_workdir(root: str | None = None) -> str:
    """A new empty directory for one Claude Code process."""
    if root:
        Path(root).mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=root)


@contextlib.contextmanager
def request_workspace(config_dir: str, root: str | None = None) -> Iterator[str]:
    """An empty directory for one query; it and its session files go at exit.

    Nothing of the proxy's own directory (a CLAUDE.md, a .claude folder, the
    repository) is visible to Claude Code from here.
    """
    cwd = new_workdir(root)
    try:
        yield cwd
    finally:
        sessions.remove_project(config_dir, cwd)
        shutil.rmtree(cwd, ignore_errors=True)
