"""A conversation too long for the model (issue 27): the API's error, once, and the client's compaction.

The mock answers past a window as the API does: 400 ``invalid_request_error`` "prompt
is too long: N tokens > M maximum". Claude Code neither retries nor summarises it, and
LiteLLM sends it to no fallback model (``context_window_fallbacks`` in the config):
exactly one upstream request, and the client gets a 400 in its API's shape, streamed or
not. When the client then sends its own compacted history (a summary in place of the old
turns), that is an edited conversation like any other: one upstream request holding
exactly what the client sent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy, post_chat

pytestmark = pytest.mark.e2e

# The message Claude Code reports for the API's "prompt is too long" (the API's own
# wording, with its token counts, does not reach the SDK's messages).
TOO_LONG = "Prompt is too long"


def _headers(proxy: Proxy) -> dict[str, str]:
    return {"Authorization": f"Bearer {proxy.master_key}"}


def _too_long_for_any_request(mock: MockAnthropic) -> None:
    """Claude Code's own system prompt and tools alone pass this window."""
    mock.set_context(scale=1000, window=100_000)


def _assert_one_upstream_request(mock: MockAnthropic, model: str) -> None:
    assert [r.body["model"] for r in mock.requests] == [model]
    assert mock.requests[0].tokens is not None
    assert mock.requests[0].tokens > 100_000


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_chat_gets_a_400_at_once(proxy: Proxy, mock: MockAnthropic, stream: bool) -> None:
    _too_long_for_any_request(mock)
    body = {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", headers=_headers(proxy), json=body, timeout=120)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert TOO_LONG in error["message"]
    assert "ContextWindowExceededError" in error["message"]
    _assert_one_upstream_request(mock, "claude-sonnet-5-5")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_messages_gets_the_apis_invalid_request_error(proxy: Proxy, mock: MockAnthropic, stream: bool) -> None:
    _too_long_for_any_request(mock)
    body = {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(f"{proxy.url}/v1/messages", headers=_headers(proxy), json=body, timeout=120)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert TOO_LONG in payload["error"]["message"]
    _assert_one_upstream_request(mock, "claude-sonnet-5-5")


def test_responses_gets_a_400_at_once(proxy: Proxy, mock: MockAnthropic) -> None:
    _too_long_for_any_request(mock)
    body = {"model": "sonnet", "input": "hi"}
    response = httpx.post(f"{proxy.url}/v1/responses", headers=_headers(proxy), json=body, timeout=120)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert TOO_LONG in error["message"]
    _assert_one_upstream_request(mock, "claude-sonnet-5-5")


def test_streamed_responses_fail_with_context_length_exceeded(proxy: Proxy, mock: MockAnthropic) -> None:
    """The ``response.failed`` event carries OpenAI's code for it, the one Codex compacts on."""
    _too_long_for_any_request(mock)
    body = {"model": "sonnet", "input": "hi", "stream": True}
    response = httpx.post(f"{proxy.url}/v1/responses", headers=_headers(proxy), json=body, timeout=120)
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    assert [e["type"] for e in events] == ["response.failed"], response.text
    failed = events[0]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "context_length_exceeded"
    assert TOO_LONG in failed["error"]["message"]
    _assert_one_upstream_request(mock, "claude-sonnet-5-5")


def test_default_model_has_no_fallback_for_it_either(proxy: Proxy, mock: MockAnthropic) -> None:
    """``default`` lists two fallback models for 429 and 5xx; a too-long conversation goes to neither."""
    _too_long_for_any_request(mock)
    response = post_chat(proxy, "default", [{"role": "user", "content": "hi"}])
    assert response.status_code == 400, response.text
    assert len(mock.requests) == 1  # the account's default model (here sonnet) only


def test_a_compacted_history_after_the_error_is_an_edited_conversation(proxy: Proxy, mock: MockAnthropic) -> None:
    """Turn 1 fits, turn 2 is too long, then the client sends its compacted history: a summary in
    place of the old turns. Its one upstream request holds exactly that, and nothing of the old turns."""
    tag = f"compacting client {uuid.uuid4()}"
    old = f"Old question of {tag}: " + "long words " * 100
    messages: list[dict[str, Any]] = [{"role": "system", "content": tag}, {"role": "user", "content": old}]
    context = mock.set_context(scale=1000)
    first = post_chat(proxy, "sonnet", messages)
    assert first.status_code == 200, first.text
    fitted = mock.requests[0].tokens
    assert fitted is not None
    context.window = fitted + 50_000  # the next turn, with its long question, passes it
    messages += [
        {"role": "assistant", "content": first.json()["choices"][0]["message"]["content"]},
        {"role": "user", "content": "A long follow-up: " + "more words " * 200},
    ]
    refused = post_chat(proxy, "sonnet", messages)
    assert refused.status_code == 400, refused.text
    assert TOO_LONG in refused.json()["error"]["message"]
    assert len(mock.requests) == 2
    summary = "Summary of the conversation so far: the user asked about long words."
    compacted = [
        {"role": "system", "content": tag},
        {"role": "user", "content": summary},
        {"role": "assistant", "content": "Understood."},
        {"role": "user", "content": "Short follow-up."},
    ]
    answered = post_chat(proxy, "sonnet", compacted)
    assert answered.status_code == 200, answered.text
    assert len(mock.requests) == 3
    sent = mock.requests[2]
    texts = [
        " ".join(b.get("text", "") for b in t["content"]) if isinstance(t["content"], list) else t["content"]
        for t in sent.turns()
    ]
    assert [t["role"] for t in sent.turns()] == ["user", "assistant", "user"]
    assert summary in texts[0]
    assert texts[1] == "Understood."
    assert "Short follow-up." in texts[2]
    assert "Old question of" not in json.dumps(sent.body["messages"])
    assert sent.tokens is not None
    assert sent.tokens < fitted
