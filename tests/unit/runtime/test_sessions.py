"""Earlier turns written as a resumable session transcript, removed afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litellm_claude_code.runtime import sessions
from litellm_claude_code.runtime.workspace import shared_workdir

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


def test_a_transcript_is_written_where_its_path_says_and_the_shared_directory_is_one(tmp_path: Path) -> None:
    cwd = shared_workdir(str(tmp_path / "work"))
    assert cwd == shared_workdir(str(tmp_path / "work"))  # the same path for the same root (issue 19)
    session_id = sessions.write_history(TURNS, tmp_path / "cfg", cwd)
    assert session_id is not None
    transcript = sessions.transcript_path(tmp_path / "cfg", cwd, session_id)
    lines = transcript.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["user", "assistant"]
    assert json.loads(lines[1])["message"]["model"] == "<history>"


def test_a_transcript_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    # Written under another name and renamed: the folder holds only the finished transcript.
    cwd = shared_workdir(str(tmp_path / "work"))
    session_id = sessions.write_history(TURNS, tmp_path / "cfg", cwd)
    assert session_id is not None
    folder = sessions.project_dir(tmp_path / "cfg", cwd)
    assert [p.name for p in folder.iterdir()] == [f"{session_id}.jsonl"]


def test_a_write_that_fails_leaves_nothing(tmp_path: Path) -> None:
    cwd = shared_workdir(str(tmp_path / "work"))
    unwritable = [{"role": "user", "content": [{"type": "text", "text": "\ud800"}]}]  # a lone surrogate: no UTF-8
    with pytest.raises(UnicodeEncodeError):
        sessions.write_history(unwritable, tmp_path / "cfg", cwd)
    assert list(sessions.project_dir(tmp_path / "cfg", cwd).iterdir()) == []
