"""The working directory every Claude Code process shares.

Claude Code writes its working directory's path into the "# Environment" note
of every conversation, inside the prompt Anthropic caches. Processes of the
runtime all run in one empty directory whose path depends on nothing but the
configured root (``shared_workdir``), so a conversation moved to another
process, another replica or a restarted proxy sends the same note (issue 19).
No process can write to it (Claude Code's tools are off), and it is never
removed while the proxy runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

SHARED_WORKDIR = "claude-code-work"


def shared_workdir(root: str | None = None) -> str:
    """The empty directory the runtime's processes share: the same path for the same ``root``."""
    path = Path(root or tempfile.gettempdir()) / SHARED_WORKDIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(path)
