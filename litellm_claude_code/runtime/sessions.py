"""Earlier turns of a conversation as a Claude Code session transcript.

The OpenAI API is stateless: every request carries the whole history. Claude
Code takes history only from a session it can resume, so the earlier turns are
written as a session transcript (JSONL entries of ``type`` user/assistant with
the Anthropic ``message``, chained by ``uuid``/``parentUuid``) in the config
directory's ``projects/<cwd slug>/`` and the query resumes it. The model then
receives them as real alternating turns rather than a flattened transcript.

Every process runs in one shared directory (``workspace.shared_workdir``); a
transcript written for a process is removed when the process is closed
(``process.Process.aclose``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claude_agent_sdk import project_key_for_directory

from .frames import history_answer


def project_dir(config_dir: str | Path, cwd: str | Path) -> Path:
    """Where the CLI keeps the sessions of a working directory."""
    return Path(config_dir) / "projects" / project_key_for_directory(cwd)


def _timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _entry(turn: dict[str, Any], session_id: str, cwd: str, parent: str | None) -> dict[str, Any]:
    role = turn["role"]
    content = turn["content"]
    message = history_answer(content) if role == "assistant" else {"role": role, "content": content}
    return {
        "type": role,
        "uuid": str(uuid.uuid4()),
        "parentUuid": parent,
        "sessionId": session_id,
        "cwd": cwd,
        "isSidechain": False,
        "userType": "external",
        "timestamp": _timestamp(),
        "message": message,
    }


def transcript_entries(turns: Sequence[dict[str, Any]], session_id: str, cwd: str) -> Iterator[dict[str, Any]]:
    """Transcript entries for alternating Anthropic turns, chained in order."""
    parent: str | None = None
    for turn in turns:
        entry = _entry(turn, session_id, cwd, parent)
        parent = entry["uuid"]
        yield entry


def write_history(turns: Sequence[dict[str, Any]], config_dir: str | Path, cwd: str) -> str | None:
    """Write earlier turns as a resumable session; its id, or None without history."""
    if not turns:
        return None
    session_id = str(uuid.uuid4())
    folder = project_dir(config_dir, cwd)
    folder.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(e, ensure_ascii=False) for e in transcript_entries(turns, session_id, cwd))
    path = transcript_path(config_dir, cwd, session_id)
    # Written under a name the CLI does not take for a session, then renamed: a proxy that dies
    # mid-write leaves no half-written transcript under a session's name.
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return session_id


def transcript_path(config_dir: str | Path, cwd: str, session_id: str) -> Path:
    """Where ``write_history`` put a session's transcript."""
    return project_dir(config_dir, cwd) / f"{session_id}.jsonl"
