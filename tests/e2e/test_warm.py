"""Warm sessions: a continued conversation reuses its session, any other history does not."""

from __future__ import annotations

import json
import uuid
from typing import Any

import openai
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

pytestmark = pytest.mark.e2e


def _session_of(body: dict[str, Any]) -> str:
    return str(json.loads(body["metadata"]["user_id"])["session_id"])


def _turns(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["role"], " ".join(b.get("text", "") for b in m["content"]))
        for m in body["messages"]
        if m["role"] in ("user", "assistant")
    ]


def _system() -> dict[str, str]:
    return {"role": "system", "content": f"warm test {uuid.uuid4()}"}


def test_continued_conversation_reuses_its_session(client: openai.OpenAI, mock: MockAnthropic) -> None:
    system = _system()
    mock.script(Reply(chunks=["First ", "answer."]))
    first = [system, {"role": "user", "content": "one"}]
    reply = client.chat.completions.create(model="sonnet", messages=first).choices[0].message.content
    mock.script(Reply(chunks=["Second answer."]))
    second = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "two"}]
    assert (
        client.chat.completions.create(model="sonnet", messages=second).choices[0].message.content == "Second answer."
    )
    one, two = mock.requests[-2].body, mock.requests[-1].body
    assert _session_of(one) == _session_of(two)  # the same live Claude Code session
    assert _turns(two) == [("user", "one"), ("assistant", "First answer."), ("user", "two")]


def test_edited_history_never_reuses_a_stale_session(client: openai.OpenAI, mock: MockAnthropic) -> None:
    system = _system()
    mock.script(Reply(chunks=["Original answer."]))
    first = [system, {"role": "user", "content": "one"}]
    client.chat.completions.create(model="sonnet", messages=first)
    edited = [*first, {"role": "assistant", "content": "An edited answer."}, {"role": "user", "content": "two"}]
    client.chat.completions.create(model="sonnet", messages=edited)
    one, two = mock.requests[-2].body, mock.requests[-1].body
    assert _session_of(one) != _session_of(two)
    assert _turns(two) == [("user", "one"), ("assistant", "An edited answer."), ("user", "two")]


def test_repeated_system_prompt_is_served_by_a_ready_session(client: openai.OpenAI, mock: MockAnthropic) -> None:
    system = _system()
    for _ in range(3):
        response = client.chat.completions.create(model="sonnet", messages=[system, {"role": "user", "content": "hi"}])
        assert response.choices[0].message.content == "Hello from the mock."
    sessions = [_session_of(r.body) for r in mock.requests[-3:]]
    assert len(set(sessions)) == 3  # each new conversation had a session of its own
    assert all(_turns(r.body) == [("user", "hi")] for r in mock.requests[-3:])
    assert len(mock.requests) == 3  # priming a ready session (runner.prime) sends nothing upstream
