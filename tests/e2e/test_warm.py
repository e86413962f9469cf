"""Kept processes: a continued conversation goes on in its process; any other conversation, edited
history included, reaches the model exactly as sent, on a process reused after a rewind."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.anthropic_mock import MockAnthropic, Reply
from tests.prompt_cache import shared_prefix

from .cache_check import uncached
from .harness import Proxy, module_proxy

pytestmark = pytest.mark.e2e


proxy = module_proxy("warm", "which process serves which request depends on what ran before")


def _session_of(body: dict[str, Any]) -> str:
    return str(json.loads(body["metadata"]["user_id"])["session_id"])


def _turns(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["role"], " ".join(b.get("text", "") for b in m["content"]))
        for m in body["messages"]
        if m["role"] in ("user", "assistant")
    ]


def _events(proxy: Proxy) -> Counter[str]:
    """How the proxy's runtime has given requests their process so far (its /metrics counters)."""
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    text = httpx.get(f"{proxy.url}/metrics/", headers=headers, timeout=30).text
    events: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "claude_code_process_events_total":
                events[sample.labels["event"]] += int(sample.value)
    return events


def _served_by(proxy: Proxy, request: Any) -> Counter[str]:
    """The runtime's events while ``request()`` ran: which kind of process served it."""
    before = _events(proxy)
    request()
    after = _events(proxy)
    return Counter({event: after[event] - before[event] for event in after if after[event] != before[event]})


def _system() -> dict[str, str]:
    return {"role": "system", "content": f"warm test {uuid.uuid4()}"}


def test_continued_conversation_reuses_its_session(proxy: Proxy, client: openai.OpenAI, mock: MockAnthropic) -> None:
    system = _system()
    mock.script(Reply(chunks=["First ", "answer."]))
    first = [system, {"role": "user", "content": "one"}]
    reply = client.chat.completions.create(model="sonnet", messages=first).choices[0].message.content
    mock.script(Reply(chunks=["Second answer."]))
    second = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "two"}]
    answers = []
    events = _served_by(proxy, lambda: answers.append(client.chat.completions.create(model="sonnet", messages=second)))
    assert answers[0].choices[0].message.content == "Second answer."
    assert events["live"] == 1  # the process that answered "one", holding the conversation
    one, two = mock.requests[-2].body, mock.requests[-1].body
    assert _session_of(one) == _session_of(two)  # the same live Claude Code session
    assert _turns(two) == [("user", "one"), ("assistant", "First answer."), ("user", "two")]


def test_edited_history_reaches_the_model_as_edited_on_a_ready_process(
    proxy: Proxy, client: openai.OpenAI, mock: MockAnthropic
) -> None:
    system = _system()
    mock.script(Reply(chunks=["Original answer."]))
    first = [system, {"role": "user", "content": "one"}]
    client.chat.completions.create(model="sonnet", messages=first)
    edited = [*first, {"role": "assistant", "content": "An edited answer."}, {"role": "user", "content": "two"}]
    events = _served_by(proxy, lambda: client.chat.completions.create(model="sonnet", messages=edited))
    # Served by a process started ahead (a spare, or an idle one rewound), its history fed in:
    # no process started for the request, no transcript resumed.
    assert events["spare"] + events["reused"] == 1, events
    assert events["cold"] == events["resumed"] == events["live"] == 0, events
    two = mock.requests[-1].body
    assert _turns(two) == [("user", "one"), ("assistant", "An edited answer."), ("user", "two")]
    assert "Original answer." not in json.dumps(two)


def test_new_conversations_reuse_one_process_each_with_only_its_own_turns(
    client: openai.OpenAI, mock: MockAnthropic
) -> None:
    systems = [_system() for _ in range(3)]
    for index, system in enumerate(systems):
        question = {"role": "user", "content": f"question {index}"}
        response = client.chat.completions.create(model="haiku", messages=[system, question])
        assert response.choices[0].message.content == "Hello from the mock."
    bodies = [r.body for r in mock.requests]
    assert len(bodies) == 3
    # haiku has no process before this test: the first conversation's process serves the next two.
    assert len({_session_of(b) for b in bodies}) == 1
    for index, (body, system) in enumerate(zip(bodies, systems, strict=True)):
        assert _turns(body) == [("user", f"question {index}")]
        prompt = " ".join(b["text"] for b in body["system"])
        assert system["content"] in prompt
        assert all(other["content"] not in json.dumps(body) for other in systems if other is not system)


def _conversation(client: openai.OpenAI, mock: MockAnthropic) -> list[dict[str, Any]]:
    """Two answered turns of a new conversation, with the mock's prompt cache on."""
    mock.enable_prompt_cache()
    messages: list[dict[str, Any]] = [_system()]
    for index in range(2):
        mock.script(Reply(chunks=[f"Answer {index}."]))
        messages.append({"role": "user", "content": f"question {index}"})
        reply = client.chat.completions.create(model="sonnet", messages=messages).choices[0].message.content
        messages.append({"role": "assistant", "content": reply})
    return messages


def test_a_regenerated_answer_is_asked_again_on_the_process_holding_it(
    proxy: Proxy, client: openai.OpenAI, mock: MockAnthropic
) -> None:
    messages = _conversation(client, mock)
    mock.script(Reply(chunks=["Answer 1, again."]))
    events = _served_by(proxy, lambda: client.chat.completions.create(model="sonnet", messages=messages[:-1]))
    assert events["rewound"] == 1, events  # cut back before "question 1", which is asked again
    before, again = mock.requests[-2], mock.requests[-1]
    # The same request as the first time it was asked (issue 19): all of it read from the cache.
    assert again.body["messages"] == before.body["messages"]
    assert again.usage is not None
    assert before.usage is not None
    assert again.usage["cache_read_input_tokens"] == before.usage["cache_read_input_tokens"] + uncached(before)
    assert _session_of(again.body) == _session_of(before.body)


def test_an_edited_last_turn_is_asked_on_the_process_cut_back_before_it(
    proxy: Proxy, client: openai.OpenAI, mock: MockAnthropic
) -> None:
    messages = _conversation(client, mock)
    edited = [*messages[:-2], {"role": "user", "content": "question 1, edited"}]
    events = _served_by(proxy, lambda: client.chat.completions.create(model="sonnet", messages=edited))
    assert events["rewound"] == 1, events
    first, second, edit = mock.requests[-3], mock.requests[-2], mock.requests[-1]
    assert _turns(edit.body) == [("user", "question 0"), ("assistant", "Answer 0."), ("user", "question 1, edited")]
    assert "question 1 " not in json.dumps(edit.body)
    assert '"question 1"' not in json.dumps(edit.body)
    # It repeats the second request up to the edited turn, and reads from the cache all the first
    # request wrote (a process that had kept the conversation reads no more: nothing was written
    # between the first answer and the edited turn).
    same, _ = shared_prefix(second.body, edit.body)
    assert same >= shared_prefix(first.body, second.body)[0]
    assert edit.usage is not None
    assert first.usage is not None
    assert edit.usage["cache_read_input_tokens"] == first.usage["cache_read_input_tokens"] + uncached(first)
