"""Long agent sessions at once on one proxy (issue 27): hundreds of tool rounds each, whole and streamed.

Coding agents send every round's whole history again; each session here runs
200 rounds of 3 kB tool results (600 kB of history by the end) beside the
others. Every client request must be answered, by exactly one upstream
request, and every upstream request must hold its session's whole
conversation: the first user turn and every tool result so far, in order,
byte for byte (nothing summarised, trimmed or taken from another session).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Recorded, Reply

from .harness import Proxy, module_proxy

pytestmark = pytest.mark.e2e

proxy = module_proxy("long-sessions", "several long sessions at once, each on a kept process of its own")

ROUNDS = 200
RESULT_BYTES = 3000
TOOL = "lookup"
SCHEMA = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}
SESSION = re.compile(r"long session ([0-9a-f]{32})")


def _result(tag: str, round_: int) -> str:
    line = f"{tag} row {round_}: " + "x" * 60 + "\n"
    return (line * (RESULT_BYTES // len(line) + 1))[:RESULT_BYTES]


def _call_id(tag: str, round_: int) -> str:
    return f"toolu_{tag[:8]}{round_:04d}"


def answer(body: dict[str, Any]) -> Reply | None:
    """The model of every session: a call in each round but the last, chosen by the session in the system
    prompt and the number of tool results the request holds (so sessions may interleave freely)."""
    found = SESSION.search(json.dumps(body.get("system")))
    if found is None:
        return None
    tag = found.group(1)
    done = sum(
        1
        for message in body.get("messages") or []
        if message.get("role") == "user" and isinstance(message.get("content"), list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    )
    if done + 1 >= ROUNDS:
        return Reply(chunks=[f"Done with {tag}."])
    name = next(t["name"] for t in body.get("tools") or [] if t["name"].endswith(TOOL))
    use = {"id": _call_id(tag, done), "name": name, "input": {"key": f"{tag} item {done}"}}
    return Reply(chunks=["Looking."], tool_uses=[use], stop_reason="tool_use")


@dataclass
class Session:
    """One client's agent loop on one API, streamed or not."""

    proxy: Proxy
    mode: str  # chat | messages
    stream: bool
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)
    history: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rounds: int = 0  # how far it got, for a failure's message

    def run(self) -> None:
        try:
            with httpx.Client(timeout=120) as http:
                self.history.append({"role": "user", "content": f"Look up every item for {self.tag}."})
                for round_ in range(ROUNDS):
                    self.rounds = round_
                    calls = self._send(http)
                    if round_ + 1 == ROUNDS:
                        assert calls == [], f"round {round_ + 1}: calls after the last round"
                        return
                    assert calls == [_call_id(self.tag, round_)], f"round {round_ + 1}: calls {calls}"
                    self._answer(round_)
        except Exception as error:  # reported by the test, with the session it happened in
            self.errors.append(f"{self.mode} stream={self.stream} {self.tag}: {error!r}")

    def _answer(self, round_: int) -> None:
        """The round's call as the client got it, and its result."""
        call, result, key = _call_id(self.tag, round_), _result(self.tag, round_), {"key": f"{self.tag} item {round_}"}
        if self.mode == "chat":
            function = {"name": TOOL, "arguments": json.dumps(key)}
            self.history.append(
                {
                    "role": "assistant",
                    "content": "Looking.",
                    "tool_calls": [{"id": call, "type": "function", "function": function}],
                }
            )
            self.history.append({"role": "tool", "tool_call_id": call, "content": result})
        else:
            use = {"type": "tool_use", "id": call, "name": TOOL, "input": key}
            self.history.append({"role": "assistant", "content": [{"type": "text", "text": "Looking."}, use]})
            self.history.append(
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call, "content": result}]}
            )

    def _send(self, http: httpx.Client) -> list[str]:
        """One round; the ids of the calls the answer made."""
        system = f"You help with long session {self.tag}."
        body: dict[str, Any]
        tools: list[dict[str, Any]]
        if self.mode == "chat":
            tools = [{"type": "function", "function": {"name": TOOL, "parameters": SCHEMA}}]
            body = {"model": "sonnet", "messages": [{"role": "system", "content": system}, *self.history]}
            path = "/v1/chat/completions"
        else:
            tools = [{"name": TOOL, "input_schema": SCHEMA}]
            body = {"model": "sonnet", "max_tokens": 512, "system": system, "messages": self.history}
            path = "/v1/messages"
        body |= {"tools": tools, "stream": self.stream}
        headers = {"Authorization": f"Bearer {self.proxy.master_key}"}
        if not self.stream:
            response = http.post(f"{self.proxy.url}{path}", json=body, headers=headers)
            assert response.status_code == 200, response.text[:300]
            data = response.json()
            if self.mode == "chat":
                return [c["id"] for c in data["choices"][0]["message"].get("tool_calls") or []]
            return [b["id"] for b in data["content"] if b["type"] == "tool_use"]
        ids: list[str] = []
        with http.stream("POST", f"{self.proxy.url}{path}", json=body, headers=headers) as response:
            assert response.status_code == 200, response.read()[:300]
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if self.mode == "chat":
                    for choice in event.get("choices") or []:
                        ids += [c["id"] for c in (choice.get("delta") or {}).get("tool_calls") or [] if c.get("id")]
                elif event.get("type") == "content_block_start" and event["content_block"]["type"] == "tool_use":
                    ids.append(event["content_block"]["id"])
                assert event.get("type") != "error", event
        return ids


def _holds_the_whole_conversation(session: Session, request: Recorded) -> None:
    results = request.tool_results()
    turns = request.turns()
    assert f"Look up every item for {session.tag}." in json.dumps(turns[0]["content"]), "first user turn lost"
    for round_, blocks in enumerate(results):
        assert len(blocks) == 1
        assert blocks[0]["tool_use_id"] == _call_id(session.tag, round_)
        content = blocks[0]["content"]
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
        assert text == _result(session.tag, round_), f"round {round_ + 1}'s result differs upstream"


@pytest.mark.timeout(900)
def test_three_200_round_sessions_at_once_keep_every_turn(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.responder = answer
    sessions = [
        Session(proxy, "chat", stream=True),
        Session(proxy, "messages", stream=True),
        Session(proxy, "messages", stream=False),
    ]
    threads = [threading.Thread(target=s.run) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    assert not any(t.is_alive() for t in threads), f"unfinished after 15 minutes: {[s.rounds for s in sessions]}"
    assert [e for s in sessions for e in s.errors] == []
    for session in sessions:
        upstream = [r for r in mock.requests if session.tag in json.dumps(r.body.get("system"))]
        assert len(upstream) == ROUNDS, f"{session.mode} stream={session.stream}: {len(upstream)} upstream requests"
        for round_, request in enumerate(upstream):
            assert len(request.tool_results()) == round_, f"round {round_ + 1} holds {len(request.tool_results())}"
            _holds_the_whole_conversation(session, request)
