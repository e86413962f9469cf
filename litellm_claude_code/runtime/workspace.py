"""Working directories: the one every process of the runtime shares, and a one-shot request's own.

Claude Code writes its working directory's path into the "# Environment" note
of every conversation, inside the prompt Anthropic caches. Processes of the
runtime all run in one empty directory whose path depends on nothing but the
configured root (``shared_workdir``), so a conversation moved to another
process, another replica or a restarted proxy sends the same note (issue 19).
No process can write to it (Claude Code's tools are off), and it is never
removed while the proxy runs.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import sessions

WORKDIR_PREFIX = "claude-code-req-"
SHARED_WORKDIR = "claude-code-work"


def shared_workdir(root: str | None = None) -> str:
    """The empty directory the runtime's processes share: the same path for the same ``root``."""
    path = Path(root or tempfile.gettempdir()) / SHARED_WORKDIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(path)


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
