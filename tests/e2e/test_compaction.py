"""Claude Code never compacts a conversation (issue 27): the client owns it, however long.

The mock reports usage that grows with the conversation (``MockAnthropic.set_context``,
scaled so a few turns pass a million tokens), far past the window Claude Code believes
the model has. A chat and an agent loop on each API, continued on the process that holds
them and moved to another replica, still send one upstream request per client request,
each holding the whole conversation, and never Claude Code's summary prompt (which
``conftest`` also fails any end-to-end test on).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Recorded, Reply
from tests.prompt_cache import shared_prefix

from .harness import Proxy, claude_env, run_proxy

pytestmark = pytest.mark.e2e

MODEL = "sonnet"
# A conversation's first request already reports well over a million tokens: past the
# window Claude Code believes any model has (its compaction and its own refusal began
# there before DISABLE_COMPACT and CLAUDE_CODE_MAX_CONTEXT_TOKENS).
SCALE = 3000
ROUNDS = 4
LOOKUP = {"type": "object", "properties": {"key": {"type": "string"}}}


@pytest.fixture(scope="module")
def replicas(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Proxy]]:
    """Two proxies on one account, as replicas are: the same config directory and temporary path."""
    home = tmp_path_factory.mktemp("compaction-home")
    env = claude_env(home, mock.url)
    with run_proxy(home, env) as one, run_proxy(home, env, master_key=one.master_key) as two:
        yield one, two


def _post(proxy: Proxy, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{proxy.url}{path}", headers={"Authorization": f"Bearer {proxy.master_key}"}, json=body, timeout=120
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


class Conversation:
    """A chat or an agent loop on one API, whose turns may go to different proxies."""

    def __init__(self, mock: MockAnthropic, api: str, tools: bool) -> None:
        self.mock, self.api, self.tools = mock, api, tools
        self.tag = f"long conversation {uuid.uuid4()}"
        self.first = f"First question of {self.tag}: " + "words " * 40
        self.history: list[dict[str, Any]] = [{"role": "user", "content": self.first}]
        self.turns = 0

    def turn(self, proxy: Proxy) -> None:
        self.turns += 1
        use = {"id": f"toolu_{uuid.uuid4().hex[:12]}", "name": "lookup", "input": {"key": "k"}}
        if self.tools:
            self.mock.script(Reply(chunks=["Looking."], tool_uses=[use], stop_reason="tool_use"))
        else:
            self.mock.script(Reply(chunks=[f"Answer {self.turns}."]))
        getattr(self, f"_{self.api}")(proxy, use["id"])

    def _chat(self, proxy: Proxy, call_id: str) -> None:
        body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "system", "content": self.tag}, *self.history]}
        if self.tools:
            body["tools"] = [{"type": "function", "function": {"name": "lookup", "parameters": LOOKUP}}]
        message = _post(proxy, "/v1/chat/completions", body)["choices"][0]["message"]
        if not self.tools:
            self.history += [{"role": "assistant", "content": message["content"]}, self._next_question()]
            return
        assert [c["id"] for c in message["tool_calls"]] == [call_id]
        self.history.append({"role": "assistant", "content": message["content"], "tool_calls": message["tool_calls"]})
        self.history.append({"role": "tool", "tool_call_id": call_id, "content": f"result {self.turns} " * 30})

    def _responses(self, proxy: Proxy, call_id: str) -> None:
        body: dict[str, Any] = {"model": MODEL, "instructions": self.tag, "input": self.history}
        if self.tools:
            body["tools"] = [{"type": "function", "name": "lookup", "parameters": LOOKUP}]
        output = _post(proxy, "/v1/responses", body)["output"]
        self.history += output
        if not self.tools:
            self.history.append(self._next_question())
            return
        assert [o["call_id"] for o in output if o["type"] == "function_call"] == [call_id]
        result = {"type": "function_call_output", "call_id": call_id, "output": f"result {self.turns} " * 30}
        self.history.append(result)

    def _messages(self, proxy: Proxy, call_id: str) -> None:
        body: dict[str, Any] = {"model": MODEL, "max_tokens": 500, "system": self.tag, "messages": self.history}
        if self.tools:
            body["tools"] = [{"name": "lookup", "description": "look a key up", "input_schema": LOOKUP}]
        content = _post(proxy, "/v1/messages", body)["content"]
        self.history.append({"role": "assistant", "content": content})
        if not self.tools:
            self.history.append(self._next_question())
            return
        assert [b["id"] for b in content if b["type"] == "tool_use"] == [call_id]
        result = {"type": "tool_result", "tool_use_id": call_id, "content": f"result {self.turns} " * 30}
        self.history.append({"role": "user", "content": [result]})

    def _next_question(self) -> dict[str, Any]:
        return {"role": "user", "content": f"Question {self.turns + 1}: " + "more " * 40}

    def requests(self) -> list[Recorded]:
        return [r for r in self.mock.requests if self.tag in json.dumps(r.body.get("system"))]


def assert_whole_every_time(conversation: Conversation) -> None:
    """One upstream request per client request, each the whole previous one and more, none a summary."""
    requests = conversation.requests()
    assert len(requests) == conversation.turns == ROUNDS
    assert [r for r in requests if r.asks_for_summary()] == []
    assert conversation.first in json.dumps(requests[0].body["messages"])
    for number, (before, after) in enumerate(pairwise(requests), start=2):
        same, total = shared_prefix(before.body, after.body)
        assert same == total, f"request {number} repeats {same} of the previous request's {total} tokens"
    assert all(r.tokens is not None and r.tokens > 1_000_000 for r in requests), [r.tokens for r in requests]


API_MODES = [("chat", False), ("chat", True), ("responses", True), ("messages", True)]
API_IDS = ["chat", "chat-loop", "responses-loop", "messages-loop"]


@pytest.mark.parametrize(("api", "tools"), API_MODES, ids=API_IDS)
def test_continued_past_the_window_on_its_kept_process(
    replicas: tuple[Proxy, Proxy], mock: MockAnthropic, api: str, tools: bool
) -> None:
    mock.set_context(scale=SCALE)
    conversation = Conversation(mock, api, tools)
    for _ in range(ROUNDS):
        conversation.turn(replicas[0])
    assert_whole_every_time(conversation)


@pytest.mark.parametrize(("api", "tools"), API_MODES, ids=API_IDS)
def test_continued_past_the_window_moving_between_replicas(
    replicas: tuple[Proxy, Proxy], mock: MockAnthropic, api: str, tools: bool
) -> None:
    mock.set_context(scale=SCALE)
    conversation = Conversation(mock, api, tools)
    for turn in range(ROUNDS):
        conversation.turn(replicas[turn % 2])
    assert_whole_every_time(conversation)
