"""Isolation and faults on reused processes (issue 11), through the real proxy.

500 conversations, each with its own system prompt, model and canary word, at
concurrency 4, continuations, edited histories, agent-loop rounds, regenerated
answers and edited last turns among them (issue 19): every upstream request
carries one conversation's canary only, its system prompt and its model,
although a few processes serve them all, and every round of tool results goes
to the process that asked for them. A reused process whose turn failed
upstream, timed out or was cut off by the client is never used again.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Recorded, Reply

from .harness import Proxy, module_proxy

pytestmark = pytest.mark.e2e

CONVERSATIONS = 500
WORKERS = 4
MODELS = {"sonnet": "sonnet", "haiku": "haiku", "opus": "opus"}  # alias -> in the upstream model id
CANARY = re.compile(r"CANARY[0-9a-f]{12}")
REPLY = "ok"


proxy = module_proxy("isolation", "counts the processes serving its conversations")


def _session_of(recorded: Recorded) -> str:
    return str(json.loads(recorded.body["metadata"]["user_id"])["session_id"])


USE_TOOL = "USE_TOOL"
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
STEPS = ("new", "continue", "call", "result", "edit", "continue", "regenerate", "edit-last")


def _newest_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def _answers_tool_calls(body: dict[str, Any]) -> bool:
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)


def _answer(body: dict[str, Any]) -> Reply | None:
    """A tool call when the newest user turn asks for one (the mock's responder)."""
    if USE_TOOL not in _newest_user_text(body):
        return None
    use = {"id": f"toolu_{uuid.uuid4().hex[:16]}", "name": "lookup", "input": {}}
    return Reply(chunks=[REPLY], tool_uses=[use], stop_reason="tool_use")


class Worker:
    """One client's sequence: new conversations, continued, edited, agent-loop rounds, regenerated."""

    def __init__(self, index: int, loops: bool) -> None:
        self.index = index
        self.loops = loops
        self.sent: list[tuple[str, str]] = []  # (canary, model alias) per request
        self.messages: list[dict[str, Any]] = []
        self.canary = ""
        self.model = "sonnet"

    @property
    def tools(self) -> bool:
        """With loops, half the workers run agent loops; the others plain chat (whose processes are reused)."""
        return self.loops and self.index % 2 == 1

    def kind(self, step: int) -> str:
        kind = STEPS[step % len(STEPS)]
        return "continue" if kind in ("call", "result") and not self.tools else kind

    def next_body(self, step: int) -> dict[str, Any]:
        kind = self.kind(step)
        if kind == "new" or not self.messages:
            self.canary = f"CANARY{uuid.uuid4().hex[:12]}"
            self.model = list(MODELS)[(self.index + step) % len(MODELS)]
            self.messages = [
                {"role": "system", "content": f"system of {self.canary}"},
                {"role": "user", "content": f"hello {self.canary}"},
            ]
        elif kind == "continue":
            self.messages.append({"role": "user", "content": f"and then {self.canary} {step}"})
        elif kind == "call":
            self.messages.append({"role": "user", "content": f"{USE_TOOL} for {self.canary} {step}"})
        elif kind == "result":
            calls = self.messages[-1].get("tool_calls") or []
            for call in calls:
                self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": f"{self.canary} result"})
        elif kind == "edit":  # the last answer rewritten by the client
            self.messages[-1] = {"role": "assistant", "content": f"edited {self.canary}"}
            self.messages.append({"role": "user", "content": f"after the edit {self.canary}"})
        elif kind == "regenerate":  # the last answer asked for again
            self.messages.pop()
        else:  # the last question edited
            self.messages[-2:] = [{"role": "user", "content": f"edited question {self.canary} {step}"}]
        self.sent.append((self.canary, self.model))
        body: dict[str, Any] = {"model": self.model, "messages": self.messages}
        return {**body, "tools": TOOLS} if self.tools else body

    def answered(self, message: dict[str, Any]) -> None:
        kept = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            kept["tool_calls"] = message["tool_calls"]
        self.messages.append(kept)


async def _run_workers(proxy: Proxy, loops: bool) -> list[Worker]:
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    workers = [Worker(i, loops) for i in range(WORKERS)]

    async def run(worker: Worker, client: httpx.AsyncClient) -> None:
        for step in range(CONVERSATIONS // WORKERS):
            response = await client.post(
                f"{proxy.url}/v1/chat/completions", headers=headers, json=worker.next_body(step)
            )
            assert response.status_code == 200, response.text
            message = response.json()["choices"][0]["message"]
            assert message["content"] == REPLY
            assert bool(message.get("tool_calls")) is (worker.kind(step) == "call")
            worker.answered(message)

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(run(w, client) for w in workers))
    return workers


@pytest.mark.parametrize("loops", [False, True], ids=["chat", "chat-and-agent-loops"])
def test_500_conversations_on_reused_processes_stay_apart(proxy: Proxy, mock: MockAnthropic, loops: bool) -> None:
    mock.default = Reply(chunks=[REPLY])
    mock.responder = _answer
    try:
        workers = asyncio.run(_run_workers(proxy, loops))
    finally:
        mock.responder = None
        mock.default = Reply()
    models = {canary: model for w in workers for canary, model in w.sent}
    expected = Counter(canary for w in workers for canary, _ in w.sent)
    assert len(mock.requests) == CONVERSATIONS
    seen: Counter[str] = Counter()
    for recorded in mock.requests:
        body = json.dumps(recorded.body)
        canaries = set(CANARY.findall(body))
        assert len(canaries) == 1, canaries  # one conversation's words only
        [canary] = canaries
        seen[canary] += 1
        system = " ".join(b["text"] for b in recorded.body["system"])
        assert f"system of {canary}" in system
        assert MODELS[models[canary]] in recorded.body["model"]
        assert all(t["content"] for t in recorded.turns())
    assert seen == expected
    # Each round of tool results went to the process that asked for them (its Claude Code session).
    rounds = 0
    for index, recorded in enumerate(mock.requests):
        if not _answers_tool_calls(recorded.body):
            continue
        [canary] = set(CANARY.findall(json.dumps(recorded.body)))
        asked = [r for r in mock.requests[:index] if canary in json.dumps(r.body)][-1]
        assert USE_TOOL in _newest_user_text(asked.body)
        assert _session_of(recorded) == _session_of(asked)
        rounds += 1
    assert rounds == sum(w.kind(step) == "result" for w in workers for step in range(CONVERSATIONS // WORKERS))
    # Plain-chat processes are reused for other conversations; a conversation with tools has a
    # process of its own (its MCP server and hooks are that conversation's), so no process serves
    # two of them.
    plain = {canary for w in workers if not w.tools for canary, _ in w.sent}
    served: dict[str, set[str]] = {}
    for recorded in mock.requests:
        [canary] = set(CANARY.findall(json.dumps(recorded.body)))
        served.setdefault(_session_of(recorded), set()).add(canary)
    assert any(len(canaries) >= 2 for canaries in served.values() if canaries <= plain), served
    assert all(len(canaries) == 1 for canaries in served.values() if not canaries <= plain), served
    if not loops:
        # Plain chat alone: a few processes serve them all. With agent loops among them, the
        # processes kept for the loops take idle places too, and how many plain ones are reused
        # depends on timing (two CI runs: 30 and 32 sessions for 32 plain conversations, the
        # conversations whose process was taken moving with their prompt cache).
        assert len(served) <= 40, len(served)


# A deployment no other test here uses: its one idle process is the one every new conversation reuses.
FAULT_MODEL = "claude-3-5-haiku-20241022"


def _post(proxy: Proxy, system: str, **extra: Any) -> httpx.Response:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]
    body = {"model": FAULT_MODEL, "messages": messages}
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    return httpx.post(f"{proxy.url}/v1/chat/completions", headers=headers, json={**body, **extra}, timeout=60)


def _warm_process(proxy: Proxy, mock: MockAnthropic) -> str:
    """The session of the deployment's idle process, after two conversations used it."""
    for _ in range(2):
        assert _post(proxy, f"warm {uuid.uuid4()}").status_code == 200
    assert _session_of(mock.requests[-1]) == _session_of(mock.requests[-2])
    return _session_of(mock.requests[-1])


@pytest.mark.parametrize("fault", ["upstream error", "timeout", "client disconnect"])
def test_a_reused_process_whose_turn_failed_is_retired(proxy: Proxy, mock: MockAnthropic, fault: str) -> None:
    warm = _warm_process(proxy, mock)
    if fault == "upstream error":
        mock.script(Reply(status=400, error_type="invalid_request_error", error_message="bad"))
        assert _post(proxy, f"fails {uuid.uuid4()}").status_code == 400
    elif fault == "timeout":
        mock.script(Reply(hang=True))
        assert _post(proxy, f"hangs {uuid.uuid4()}", timeout=2).status_code == 408
    else:
        mock.script(Reply(chunks=[f"w{i} " for i in range(40)], delay=0.2))
        headers = {"Authorization": f"Bearer {proxy.master_key}"}
        body = {"model": FAULT_MODEL, "stream": True, "messages": [{"role": "user", "content": f"cut {uuid.uuid4()}"}]}
        with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", headers=headers, json=body) as response:
            for line in response.iter_lines():
                if "w0" in line:
                    break
    assert _session_of(mock.requests[-1]) == warm  # the fault happened on the reused process
    mock.reset()
    assert _post(proxy, f"after {uuid.uuid4()}").status_code == 200
    assert _session_of(mock.requests[-1]) != warm  # that process is gone


def test_a_searched_request_has_a_process_of_its_own(proxy: Proxy, mock: MockAnthropic) -> None:
    """Issue 23: a process with WebSearch on serves its request only; the warm one never offers search."""
    warm = _warm_process(proxy, mock)
    call = {"id": "toolu_search1", "name": "WebSearch", "input": {"query": "rain"}}
    mock.script(Reply(chunks=[], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=["found"]))
    assert _post(proxy, f"search {uuid.uuid4()}", web_search_options={}).status_code == 200
    searched = mock.requests[-2:]
    assert len(mock.searches) == 1
    assert {_session_of(r) for r in searched} != {warm}
    assert all("WebSearch" in [t["name"] for t in r.body["tools"]] for r in searched)
    for _ in range(2):
        assert _post(proxy, f"plain {uuid.uuid4()}").status_code == 200
        assert "WebSearch" not in [t["name"] for t in mock.requests[-1].body.get("tools") or []]
        assert _session_of(mock.requests[-1]) not in {_session_of(r) for r in searched}
    assert len(mock.searches) == 1
