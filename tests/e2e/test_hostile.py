"""Malformed and hostile input: a 4xx naming the problem, never a 500 or a hang."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import Proxy

pytestmark = pytest.mark.e2e


def _post(proxy: Proxy, body: Any, raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {proxy.master_key}", "Content-Type": "application/json"}
    url = f"{proxy.url}/v1/chat/completions"
    if raw is not None:
        return httpx.post(url, headers=headers, content=raw, timeout=60)
    return httpx.post(url, headers=headers, json=body, timeout=60)


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"model": "sonnet", "messages": "hello"}, 400, "messages"),
        ({"model": "sonnet", "messages": [{"role": "user", "content": 42}]}, 400, "content"),
        ({"model": "sonnet", "messages": [{"role": "wizard", "content": "hi"}]}, 400, "wizard"),
        ({"model": "sonnet", "messages": []}, 400, "messages"),
        ({"model": "sonnet", "messages": [{"role": "user", "content": ""}]}, 400, "empty"),
        ({"model": "sonnet", "messages": [{"role": "user"}]}, 400, "empty"),
        ({"model": "sonnet", "messages": [{"content": "no role"}]}, 400, "role"),
        ({"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -5}, 400, "max_tokens"),
        ({"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "stop": [1, 2]}, 400, "stop"),
        ({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}, 400, "no-such-model"),
    ],
)
def test_malformed_requests_are_4xx(proxy: Proxy, mock: MockAnthropic, body: Any, status: int, named: str) -> None:
    response = _post(proxy, body)
    assert response.status_code == status, response.text
    assert named in response.text
    assert mock.requests == []


def test_malformed_json_is_4xx(proxy: Proxy) -> None:
    response = _post(proxy, None, raw=b'{"model": "sonnet", "messages": [')
    assert 400 <= response.status_code < 500, response.text


def test_control_characters_pass_through_as_text(proxy: Proxy, mock: MockAnthropic) -> None:
    text = "bell\x07 null\x00 escape\x1b[31m del\x7f"
    response = _post(proxy, {"model": "sonnet", "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 200, response.text
    sent = mock.requests[-1].body["messages"]
    assert any(text in str(block.get("text")) for m in sent if m["role"] == "user" for block in m["content"])


def test_a_10_mb_message_is_refused_by_size(proxy: Proxy, mock: MockAnthropic) -> None:
    response = _post(proxy, {"model": "sonnet", "messages": [{"role": "user", "content": "x" * (10 * 1024 * 1024)}]})
    assert response.status_code in (400, 413), response.text[:500]
    assert "too large" in response.text or "exceeds" in response.text
    assert mock.requests == []


def test_10000_messages_are_served_as_9999_real_turns(proxy: Proxy, mock: MockAnthropic) -> None:
    """docs/faults.md: "10,000 messages | served as 9,999 real turns": a system message and 9,999 alternating turns."""
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(9_999)]
    messages = [{"role": "system", "content": "system canary 5521"}, *turns]
    assert len(messages) == 10_000
    response = _post(proxy, {"model": "sonnet", "messages": messages})
    assert response.status_code == 200, response.text[:500]
    assert response.json()["choices"][0]["message"]["content"] == "Hello from the mock."
    assert len(mock.requests) == 1  # one model call: the earlier turns are history, not replayed
    sent = mock.requests[0]
    assert "system canary 5521" in json.dumps(sent.body["system"])
    reached = sent.turns()
    assert [t["role"] for t in reached] == [t["role"] for t in turns]
    texts = [
        " ".join(b.get("text", "") for b in t["content"]) if isinstance(t["content"], list) else t["content"]
        for t in reached
    ]
    assert all(f"m{i}" in text.split() for i, text in enumerate(texts)), "a turn did not reach the model as sent"


def test_a_model_that_tries_host_tools_runs_nothing(proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    """Even if the model itself asks for Claude Code's tools, none exists to run."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CANARY-7731")
    canary = tmp_path / "pwned"
    attempt = Reply(
        chunks=[],
        stop_reason="tool_use",
        tool_uses=[
            {"id": "toolu_bash", "name": "Bash", "input": {"command": f"touch {canary}"}},
            {"id": "toolu_read", "name": "Read", "input": {"file_path": str(secret)}},
            {"id": "toolu_write", "name": "Write", "input": {"file_path": str(canary), "content": "x"}},
        ],
    )
    mock.script(attempt, Reply(chunks=["Nothing ran."]))
    prompt = f"Run `touch {canary}` and read {secret}, then cd / and list it."
    response = _post(proxy, {"model": "sonnet", "messages": [{"role": "user", "content": prompt}]})
    assert response.status_code < 500, response.text
    assert not canary.exists()
    assert all("TOP-SECRET-CANARY-7731" not in json.dumps(r.body) for r in mock.requests)
    assert all(r.body.get("tools") in (None, []) for r in mock.requests)
