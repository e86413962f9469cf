"""The provider used from Python through litellm (no proxy): sync, async and streaming."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import litellm
import pytest

from claude_code_provider import BUNDLED_CLI, ClaudeCodeProvider
from tests.anthropic_mock import MockAnthropic, Reply

from .harness import _children, claude_env, cli_processes, wait_until_gone

pytestmark = pytest.mark.e2e


@pytest.fixture
def provider(mock: MockAnthropic, tmp_path: Path) -> Iterator[ClaudeCodeProvider]:
    environ = {**os.environ, **claude_env(tmp_path, mock.url)}
    instance = ClaudeCodeProvider(environ=environ)
    saved = litellm.custom_provider_map
    litellm.custom_provider_map = [{"provider": "claude-code", "custom_handler": instance}]
    litellm.utils.custom_llm_setup()  # type: ignore[no-untyped-call]  # litellm.utils leaves it unannotated
    yield instance
    litellm.custom_provider_map = saved
    litellm.utils.custom_llm_setup()  # type: ignore[no-untyped-call]  # litellm.utils leaves it unannotated


MESSAGES = [{"role": "user", "content": "hi"}]


def test_sync_completion(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["sync ", "answer"]))
    response = litellm.completion(model="claude-code/sonnet", messages=MESSAGES)
    assert response.choices[0].message.content == "sync answer"


def _content(chunks: Iterator[Any]) -> Iterator[str]:
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def _own_cli_processes() -> set[int]:
    """Claude Code processes this test process started itself (not a proxy's)."""
    return set(cli_processes(os.getpid())) & set(_children(os.getpid()))


def test_sync_streaming(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    """Sync streaming yields each chunk as it arrives: the first while the model still holds back the rest.

    The mock sends "a" and then nothing more until the request's timeout; an
    implementation that collects the answer first gets no chunk, only the timeout.
    """
    mock.script(Reply(chunks=["a", "b", "c"], stall_after=1))
    stream = litellm.completion(model="claude-code/sonnet", messages=MESSAGES, stream=True, timeout=30)
    try:
        assert next(_content(stream)) == "a"
    finally:
        stream.close()


def test_sync_streaming_whole_answer(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["a", "b", "c"]))
    stream = litellm.completion(model="claude-code/sonnet", messages=MESSAGES, stream=True)
    assert "".join(_content(stream)) == "abc"


def test_sync_stream_closed_early_stops_the_turn_and_its_process(
    provider: ClaudeCodeProvider, mock: MockAnthropic
) -> None:
    mock.script(Reply(chunks=["a", "b", "c"], stall_after=1))
    threads = set(threading.enumerate())
    before = _own_cli_processes()
    stream = provider.streaming("sonnet", MESSAGES, timeout=60)
    assert next(_content(stream)) == "a"
    running = _own_cli_processes() - before
    assert running, "the turn's Claude Code process should be running while the stream is open"
    stream.close()  # the caller stops iterating
    assert wait_until_gone(os.getpid(), running, within=5) == set()
    assert set(threading.enumerate()) <= threads  # the stream's thread has ended
    assert provider.outcomes.by_status == {499: 1}  # stopped as the caller went away, not at the timeout


def test_sync_stream_error_is_the_async_paths_exception(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    """The stall's timeout ends both streams, after their first chunk, with the same LiteLLM exception."""

    async def run_async() -> list[str]:
        received = []
        async for text in _acontent(provider.astreaming("sonnet", MESSAGES, timeout=2)):
            received.append(text)
        return received

    raised: list[BaseException] = []
    for run in ("sync", "async"):
        mock.script(Reply(chunks=["a", "b", "c"], stall_after=1))
        received: list[str] = []
        with pytest.raises(litellm.Timeout) as caught:  # noqa: PT012 - the error arrives while iterating
            if run == "sync":
                for text in _content(provider.streaming("sonnet", MESSAGES, timeout=2)):
                    received.append(text)
            else:
                received = asyncio.run(run_async())
        assert received in (["a"], [])  # the sync side: exactly the chunk sent before the stall
        if run == "sync":
            assert received == ["a"]
        raised.append(caught.value)
    sync, async_ = raised
    assert (type(sync), getattr(sync, "status_code", None), str(sync)) == (
        type(async_),
        getattr(async_, "status_code", None),
        str(async_),
    )


async def _acontent(chunks: Any) -> Any:
    async for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def test_async_streaming_with_usage(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["x", "y"], input_tokens=7, output_tokens=2))

    async def run() -> tuple[str, object]:
        stream = await litellm.acompletion(
            model="claude-code/sonnet", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = getattr(chunk, "usage", None) or usage
        return text, usage

    text, usage = asyncio.run(run())
    assert text == "xy"
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 2)  # type: ignore[attr-defined]  # litellm's ModelResponse declares no usage attribute


def test_default_model_passes_no_model_flag(mock: MockAnthropic, tmp_path: Path) -> None:
    """``claude-code/default`` starts the CLI without ``--model``: the account's default model answers."""
    argv_log = tmp_path / "argv.log"
    wrapper = tmp_path / "claude"
    wrapper.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" >> {argv_log}\nprintf -- "--\\n" >> {argv_log}\nexec {BUNDLED_CLI} "$@"\n'
    )
    wrapper.chmod(0o755)
    provider = ClaudeCodeProvider(environ={**os.environ, **claude_env(tmp_path, mock.url)})
    settings = {"model_info": {"claude_code": {"cli_path": str(wrapper)}}}
    for model in ("default", "sonnet"):
        response = provider.completion(model, MESSAGES, litellm_params=settings, timeout=60)
        assert response.choices[0].message.content == "Hello from the mock."
    runs = [run.split("\n") for run in argv_log.read_text().split("--\n") if run]
    assert len(runs) == 2
    default, sonnet = runs
    assert not any(arg.startswith("--model") for arg in default)
    assert sonnet[sonnet.index("--model") + 1] == "sonnet"  # the wrapper sees the flag when one is given
    chosen = mock.requests[0].body["model"]
    assert chosen.startswith("claude-")  # the CLI's own choice, not the alias
    assert chosen != "default"


def test_missing_binary_is_503(mock: MockAnthropic, tmp_path: Path) -> None:
    provider = ClaudeCodeProvider(environ={**os.environ, **claude_env(tmp_path, mock.url)})
    params = {"model_info": {"claude_code": {"cli_path": str(tmp_path / "no-such-claude")}}}

    async def run() -> None:
        await provider.acompletion("sonnet", MESSAGES, litellm_params=params, timeout=30)

    with pytest.raises(litellm.ServiceUnavailableError, match="not found"):
        asyncio.run(run())
    assert mock.requests == []


def test_sync_streaming_keeps_no_process(mock: MockAnthropic, tmp_path: Path) -> None:
    """Even on a pooling provider (the proxy's), a sync stream runs cold: its thread's loop ends with it."""
    pooling = ClaudeCodeProvider(environ={**os.environ, **claude_env(tmp_path, mock.url)}, pooling=True)
    before = _own_cli_processes()
    assert "".join(_content(pooling.streaming("sonnet", MESSAGES, timeout=60))) == "Hello from the mock."
    assert pooling._runtimes._current is None  # no runtime, so no process kept or started ahead
    assert wait_until_gone(os.getpid(), _own_cli_processes() - before, within=5) == set()


def test_a_library_agent_loop_round_reaches_the_model_with_its_results(
    provider: ClaudeCodeProvider, mock: MockAnthropic
) -> None:
    """Tool results from a library caller (no kept processes): a process started for the round, the
    earlier turns fed in, the results sent as a real user turn, and the client's tool offered again."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": schema}}]
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ]
    mock.script(Reply(chunks=["Paris is sunny."]))
    response = litellm.completion(model="claude-code/sonnet", messages=messages, tools=tools)
    assert response.choices[0].message.content == "Paris is sunny."
    [request] = mock.requests
    assert request.offered() == {"get_weather": schema}
    [[result]] = request.tool_results()
    assert result["tool_use_id"] == "call_1"
    assert "sunny, 21C" in str(result["content"])
    assert [t["role"] for t in request.turns()] == ["user", "assistant", "user"]
    assert "Continue from where you left off" not in str(request.body)
