"""Earlier turns written as a resumable session transcript, removed afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from litellm_claude_code.runtime import sessions
from litellm_claude_code.runtime.workspace import request_workspace

TURNS = [
    {"role": "user", "content": [{"type": "text", "text": "one"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "two"}]},
]


def test_entries_chain_in_order() -> None:
    entries = list(sessions.transcript_entries(TURNS, "sid", "/w"))
    assert [e["type"] for e in entries] == ["user", "assistant"]
    assert entries[0]["parentUuid"] is None
    assert entries[1]["parentUuid"] == entries[0]["uuid"]
    assert {e["sessionId"] for e in entries} == {"sid"}
    assert [e["message"]["content"] for e in entries] == [t["content"] for t in TURNS]
    assert entries[1]["message"]["role"] == "assistant"


def test_no_history_no_session(tmp_path: Path) -> None:
    assert sessions.write_history([], tmp_path, "/w") is None
    assert not (tmp_path / "projects").exists()


def test_workspace_removes_directory_and_sessions(tmp_path: Path) -> None:
    with request_workspace(str(tmp_path / "cfg"), str(tmp_path / "work")) as cwd:
        session_id = sessions.write_history(TURNS, tmp_path / "cfg", cwd)
        transcript = sessions.project_dir(tmp_path / "cfg", cwd) / f"{session_id}.jsonl"
        lines = transcript.read_text().splitlines()
        assert [json.loads(line)["type"] for line in lines] == ["user", "assistant"]
        assert Path(cwd).is_dir()
    assert not Path(cwd).exists()
    assert not transcript.parent.exists()
