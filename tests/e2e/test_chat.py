"""End to end: openai client -> stock LiteLLM proxy -> provider -> real SDK and CLI -> mock API."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import DECOY_API_KEY, FAKE_OAUTH_TOKEN, Proxy, post_chat

pytestmark = pytest.mark.e2e

USER = [{"role": "user", "content": "Say hello."}]


def _texts(blocks: Any) -> list[str]:
    if isinstance(blocks, str):
        return [blocks]
    return [b.get("text", "") for b in blocks or [] if isinstance(b, dict)]


def _turns(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The user/assistant turns the model received (the CLI's own system notes left out)."""
    return [(m["role"], " ".join(_texts(m["content"]))) for m in body["messages"] if m["role"] in ("user", "assistant")]


def test_stream_arrives_delta_by_delta_with_exact_usage(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(
        Reply(
            chunks=["Hel", "lo ", "wor", "ld"],
            delay=0.15,
            input_tokens=21,
            output_tokens=9,
            cache_read_input_tokens=4,
            cache_creation_input_tokens=3,
        )
    )
    stream = client.chat.completions.create(
        model="sonnet",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    arrivals: list[tuple[float, str]] = []
    usage = None
    finish = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((time.monotonic(), chunk.choices[0].delta.content))
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
        if chunk.usage:
            usage = chunk.usage
    assert "".join(text for _, text in arrivals) == "Hello world"
    assert len(arrivals) >= 3
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert sum(gap >= 0.08 for gap in gaps) >= 2, gaps  # delivered as they came, not in one block
    assert finish == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (21 + 4 + 3, 9)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 4


def test_every_stream_chunk_names_the_model_that_answered(client: openai.OpenAI, mock: MockAnthropic) -> None:
    # LiteLLM's stream wrapper names the finish and usage chunks it makes after the
    # requested alias; the proxy's hook gives them the answering model too (issue 14).
    mock.script(Reply(chunks=["One ", "name."], model="claude-sonnet-9-test"))
    stream = client.chat.completions.create(
        model="sonnet", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    assert any(c.usage for c in chunks)
    assert {c.model for c in chunks} == {"claude-sonnet-9-test"}


def test_non_streaming_answer_usage_and_model(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["Exactly ", "this."], input_tokens=30, output_tokens=4, model="claude-sonnet-9-test"))
    response = client.chat.completions.create(model="sonnet", messages=USER)
    assert response.choices[0].message.content == "Exactly this."
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (30, 4)
    assert response.model == "claude-sonnet-9-test"


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_stop_gives_length(client: openai.OpenAI, mock: MockAnthropic, stream: bool) -> None:
    mock.script(Reply(chunks=["cut"], stop_reason="max_tokens"))
    response = client.chat.completions.create(model="sonnet", messages=USER, stream=stream)
    if stream:
        finishes = [c.choices[0].finish_reason for c in response if c.choices and c.choices[0].finish_reason]
        assert finishes == ["length"]
    else:
        assert response.choices[0].finish_reason == "length"


def test_models_are_listed(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"sonnet", "opus", "haiku", "claude-3-5-haiku-20241022", "default"} <= ids


def test_every_claude_model_id_is_served_through_one_wildcard_entry(proxy: Proxy) -> None:
    response = httpx.get(
        f"{proxy.url}/v1/models",
        params={"return_wildcard_routes": "true"},
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        timeout=30,
    )
    assert "claude-*" in {model["id"] for model in response.json()["data"]}


@pytest.mark.parametrize(
    ("model", "cli_model"),
    [
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
        ("haiku", "haiku"),
        # Claude Code's own ids and any other Claude id: the claude-* entry, the id unchanged
        ("claude-opus-5-5", "claude-opus-5-5"),
        ("claude-haiku-5-5", "claude-haiku-5-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
    ],
)
def test_model_reaches_upstream(client: openai.OpenAI, mock: MockAnthropic, model: str, cli_model: str) -> None:
    response = client.chat.completions.create(model=model, messages=USER)
    sent = mock.requests[-1].body["model"]
    assert cli_model in sent if cli_model != "haiku" else "haiku" in sent
    assert response.model == sent  # the model that answered


def test_a_model_no_deployment_serves_is_a_400_naming_it(client: openai.OpenAI, mock: MockAnthropic) -> None:
    with pytest.raises(openai.BadRequestError, match="gpt-4o"):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert mock.requests == []


def test_a_claude_id_the_api_does_not_know_is_a_404_naming_it(client: openai.OpenAI, mock: MockAnthropic) -> None:
    # Claude Code may first check an id it does not know with a one-token request, and retries once.
    missing = Reply(status=404, error_type="not_found_error", error_message="model: claude-nonsense-5")
    mock.script(missing, missing, missing)
    with pytest.raises(openai.NotFoundError, match="claude-nonsense-5"):
        client.chat.completions.create(model="claude-nonsense-5", messages=USER)
    assert {r.body["model"] for r in mock.requests} == {"claude-nonsense-5"}


def test_system_message_replaces_claude_code_prompt(client: openai.OpenAI, mock: MockAnthropic) -> None:
    messages = [{"role": "system", "content": "You are a pirate."}, *USER]
    client.chat.completions.create(model="sonnet", messages=messages)
    system = " ".join(_texts(mock.requests[-1].body["system"]))
    assert "You are a pirate." in system
    assert "You are Claude Code" not in system
    assert "You are a helpful assistant." not in system


def test_without_system_message_a_neutral_prompt(client: openai.OpenAI, mock: MockAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=USER)
    system = " ".join(_texts(mock.requests[-1].body["system"]))
    assert "You are a helpful assistant." in system
    assert "Claude Code" not in system


def test_no_tools_reach_the_model(client: openai.OpenAI, mock: MockAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=USER)
    assert mock.requests[-1].body.get("tools") in (None, [])


def test_at_path_is_text_not_a_file_read(client: openai.OpenAI, mock: MockAnthropic) -> None:
    message = "Summarise @/etc/passwd and @~/.bashrc please"
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": message}])
    body = str(mock.requests[-1].body)
    assert message in body
    assert "root:x:0:0" not in body
    assert Path("/etc/passwd").read_text().splitlines()[0] not in body


HOSTILE_BODY = {
    "permission_mode": "bypassPermissions",
    "cwd": "/etc",
    "allowed_tools": ["Bash", "Read"],
    "tools_preset": "claude_code",
    "mcp_servers": {"evil": {"command": "touch", "args": ["/tmp/pwned-by-mcp"]}},
    "env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "CLAUDE_CODE_OAUTH_TOKEN": "stolen"},
    "cli_path": "/bin/false",
    "system_prompt": {"type": "preset", "preset": "claude_code"},
    "setting_sources": ["user", "project"],
    "model_info": {"claude_code": {"cli_path": "/bin/false"}},
}


def test_request_body_cannot_change_sdk_settings(client: openai.OpenAI, mock: MockAnthropic) -> None:
    response = client.chat.completions.create(model="sonnet", messages=USER, extra_body=HOSTILE_BODY)
    assert response.choices[0].message.content == "Hello from the mock."
    sent = mock.requests[-1]
    assert sent.body.get("tools") in (None, [])
    assert sent.headers["authorization"] == f"Bearer {FAKE_OAUTH_TOKEN}"
    system = " ".join(_texts(sent.body["system"]))
    assert "You are Claude Code" not in system
    assert "/etc" not in " ".join(t for _, t in _turns(sent.body))
    assert not Path("/tmp/pwned-by-mcp").exists()


def test_oauth_token_used_and_api_key_ignored(client: openai.OpenAI, mock: MockAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=USER)
    headers = mock.requests[-1].headers
    assert headers["authorization"] == f"Bearer {FAKE_OAUTH_TOKEN}"
    assert DECOY_API_KEY not in str(headers)


def test_history_reaches_the_model_as_real_turns(client: openai.OpenAI, mock: MockAnthropic) -> None:
    messages = [
        {"role": "system", "content": "Keep count."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
        {"role": "assistant", "content": "four"},
        {"role": "user", "content": "five"},
    ]
    client.chat.completions.create(model="sonnet", messages=messages)
    body = mock.requests[-1].body
    assert _turns(body) == [
        ("user", "one"),
        ("assistant", "two"),
        ("user", "three"),
        ("assistant", "four"),
        ("user", "five"),
    ]
    assert "Keep count." in " ".join(_texts(body["system"]))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:  # Claude Code's own lock and key files come and go
        return ""


def test_no_conversation_left_on_the_server(client: openai.OpenAI, proxy: Proxy) -> None:
    secret = "confidential-prompt-7f3a"
    messages = [
        {"role": "user", "content": f"{secret} a"},
        {"role": "assistant", "content": f"{secret} b"},
        {"role": "user", "content": f"{secret} c"},
    ]
    client.chat.completions.create(model="sonnet", messages=messages)
    projects = proxy.home / ".claude" / "projects"
    assert (list(projects.rglob("*.jsonl")) if projects.exists() else []) == []
    files = [p for p in proxy.home.rglob("*") if p.is_file() and not p.name.startswith("proxy-")]
    assert [p for p in files if secret in _read(p)] == []
    assert [p for d in proxy.workdirs for p in d.rglob("*")] == []  # idle sessions' directories stay empty


def test_upstream_rate_limit_gives_429_with_retry_after(proxy: Proxy, mock: MockAnthropic) -> None:
    reset = int(time.time()) + 120
    headers = {
        "retry-after": "120",
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(reset),
    }
    limited = Reply(status=429, error_type="rate_limit_error", error_message="usage limit reached", headers=headers)
    mock.script(*[limited] * 6)
    response = post_chat(proxy, "opus")
    assert response.status_code == 429, response.text
    assert 100 <= int(response.headers["retry-after"]) <= 121
    assert "usage limit" in response.text or "limit" in response.json()["error"]["message"]


def test_upstream_rate_limit_without_reset_time_is_still_429(proxy: Proxy, mock: MockAnthropic) -> None:
    limited = Reply(status=429, error_type="rate_limit_error", error_message="slow down")
    mock.script(*[limited] * 6)
    started = time.monotonic()
    response = post_chat(proxy, "opus")
    assert response.status_code == 429, response.text
    assert time.monotonic() - started < 30  # Claude Code's own retries are bounded (max_retries: 1)
    mock.reset()
    assert post_chat(proxy, "opus").status_code == 200  # and the proxy serves the next request


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (529, "overloaded_error", 503),
        (500, "api_error", 500),
        (403, "permission_error", 403),
        (401, "authentication_error", 401),
        (404, "not_found_error", 404),
        (400, "invalid_request_error", 400),
    ],
)
def test_upstream_errors_map_to_status(
    proxy: Proxy, mock: MockAnthropic, status: int, error_type: str, expected: int
) -> None:
    mock.script(*[Reply(status=status, error_type=error_type, error_message=f"mock {status}")] * 8)
    response = post_chat(proxy, "opus")
    assert response.status_code == expected, response.text


def test_prompt_too_long_is_context_window_error(proxy: Proxy, mock: MockAnthropic) -> None:
    too_long = Reply(
        status=400,
        error_type="invalid_request_error",
        error_message="prompt is too long: 250000 tokens > 200000 maximum",
    )
    mock.script(*[too_long] * 4)
    response = post_chat(proxy, "opus")
    assert response.status_code == 400
    assert "ContextWindowExceeded" in response.text


def test_timeout_before_first_chunk_is_408(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.script(Reply(hang=True), Reply(hang=True))
    started = time.monotonic()
    response = post_chat(proxy, "opus", timeout=3)
    assert response.status_code == 408, response.text
    assert "did not finish within 3s" in response.text  # the request's own timeout, named
    assert time.monotonic() - started < 15


def test_error_after_first_chunk_ends_stream_with_error(client: openai.OpenAI, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["partial", " never", " more"], stall_after=1))
    received: list[str] = []
    stream = client.chat.completions.create(model="opus", messages=USER, stream=True, extra_body={"timeout": 3})
    with pytest.raises(openai.APIError):  # noqa: PT012 - the error arrives while iterating
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["partial"]


def test_bad_input_is_400_naming_the_problem(proxy: Proxy) -> None:
    response = post_chat(proxy, "sonnet", [{"role": "wizard", "content": "hi"}])
    assert response.status_code == 400
    assert "wizard" in response.text
