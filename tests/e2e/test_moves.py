"""Conversations that move between processes (issue 19), with the mock's prompt cache on.

A conversation continued on a process that never saw it (its own was taken by
other conversations, another replica, a restarted proxy) sends upstream what a
process that held it throughout would send: every request of the conversation
repeats the whole previous one and reads from the cache all that it wrote. The
moved process is given the first answer by replay (runtime/replay.py) and the
rest fed, in the working directory every process shares (runtime/workspace.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.anthropic_mock import MockAnthropic, Recorded, Reply

from .cache_check import assert_each_extends_the_previous
from .harness import Proxy, claude_env, module_proxy, post_chat, run_proxy
from .test_warm import _events, _session_of

pytestmark = pytest.mark.e2e

proxy = module_proxy("moves", "which process holds a conversation depends on what ran before")
MODEL = "haiku"


class Chat:
    """One conversation whose turns may go to different proxies."""

    def __init__(self, mock: MockAnthropic) -> None:
        self.mock = mock
        self.tag = f"moving {uuid.uuid4()}"
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": self.tag}]

    def turn(self, proxy: Proxy) -> None:
        index = len(self.messages) // 2
        self.mock.script(Reply(chunks=[f"Answer {index}: ", "some words."]))
        self.messages.append({"role": "user", "content": f"Question {index}: " + "and more " * 30})
        response = post_chat(proxy, MODEL, self.messages)
        assert response.status_code == 200, response.text
        self.messages.append({"role": "assistant", "content": response.json()["choices"][0]["message"]["content"]})

    def requests(self) -> list[Recorded]:
        return [r for r in self.mock.requests if self.tag in json.dumps(r.body.get("system"))]


def test_a_chat_continued_after_other_conversations_took_its_process(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.enable_prompt_cache()
    chat = Chat(mock)
    chat.turn(proxy)
    chat.turn(proxy)
    for index in range(12):  # new conversations: each takes the least recently used idle process
        assert post_chat(proxy, MODEL, [{"role": "user", "content": f"other {index}"}]).status_code == 200
    before = _events(proxy)
    chat.turn(proxy)
    assert _events(proxy)["replayed"] - before["replayed"] == 1
    requests = chat.requests()
    assert len(requests) == 3
    assert_each_extends_the_previous(requests)


@pytest.fixture(scope="module")
def replicas(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Proxy]]:
    """Two proxies on one account, as replicas are: the same config directory and temporary path."""
    home = tmp_path_factory.mktemp("replicas-home")
    env = claude_env(home, mock.url)
    with run_proxy(home, env) as one, run_proxy(home, env, master_key=one.master_key) as two:
        yield one, two


def test_turns_alternating_between_two_replicas(replicas: tuple[Proxy, Proxy], mock: MockAnthropic) -> None:
    mock.enable_prompt_cache()
    chat = Chat(mock)
    for turn in range(6):
        chat.turn(replicas[turn % 2])
    requests = chat.requests()
    assert len(requests) == 6
    assert len({_session_of(r.body) for r in requests}) == 2  # both replicas served it
    assert_each_extends_the_previous(requests)


def test_a_chat_continued_after_the_proxy_restarted(
    mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mock.enable_prompt_cache()
    home = tmp_path_factory.mktemp("restart-home")
    chat = Chat(mock)
    with run_proxy(home, claude_env(home, mock.url)) as before:
        chat.turn(before)
        chat.turn(before)
    with run_proxy(home, claude_env(home, mock.url)) as after:
        chat.turn(after)
        chat.turn(after)
    requests = chat.requests()
    assert len(requests) == 4
    assert_each_extends_the_previous(requests)


def test_an_agent_loop_alternating_between_two_replicas(replicas: tuple[Proxy, Proxy], mock: MockAnthropic) -> None:
    """Each round of tool results on the replica that did not make the calls: the conversation's
    first answer (a tool call) is replayed there, the rest fed, and the request is the same."""
    mock.enable_prompt_cache()
    tag = f"loop {uuid.uuid4()}"
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    messages: list[dict[str, Any]] = [{"role": "system", "content": tag}, {"role": "user", "content": "look it up"}]
    for round_ in range(4):
        use = {"id": f"toolu_{uuid.uuid4().hex[:12]}", "name": "lookup", "input": {}}
        mock.script(Reply(chunks=["Looking."], tool_uses=[use], stop_reason="tool_use"))
        proxy = replicas[round_ % 2]
        response = post_chat(proxy, MODEL, messages, tools=tools)
        assert response.status_code == 200, response.text
        message = response.json()["choices"][0]["message"]
        assert [c["id"] for c in message["tool_calls"]] == [use["id"]]
        messages.append({"role": "assistant", "content": message["content"], "tool_calls": message["tool_calls"]})
        messages.append({"role": "tool", "tool_call_id": use["id"], "content": f"result {round_}"})
    requests = [r for r in mock.requests if tag in json.dumps(r.body.get("system"))]
    assert len(requests) == 4
    assert len({_session_of(r.body) for r in requests}) == 2
    assert_each_extends_the_previous(requests)
