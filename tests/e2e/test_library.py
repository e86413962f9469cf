"""The provider used from Python through litellm (no proxy): sync, async and streaming."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import litellm
import pytest

from claude_code_provider import ClaudeCodeProvider
from tests.anthropic_mock import MockAnthropic, Reply

from .harness import claude_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def provider(mock: MockAnthropic, tmp_path: Path) -> Iterator[ClaudeCodeProvider]:
    environ = {**os.environ, **claude_env(tmp_path, mock.url)}
    instance = ClaudeCodeProvider(environ=environ)
    saved = litellm.custom_provider_map
    litellm.custom_provider_map = [{"provider": "claude-code", "custom_handler": instance}]
    litellm.utils.custom_llm_setup()
    yield instance
    litellm.custom_provider_map = saved
    litellm.utils.custom_llm_setup()


MESSAGES = [{"role": "user", "content": "hi"}]


def test_sync_completion(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["sync ", "answer"]))
    response = litellm.completion(model="claude-code/sonnet", messages=MESSAGES)
    assert response.choices[0].message.content == "sync answer"  # type: ignore[union-attr]


def test_sync_streaming(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["a", "b", "c"]))
    stream = litellm.completion(model="claude-code/sonnet", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)  # type: ignore[union-attr]
    assert text == "abc"


def test_async_streaming_with_usage(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    mock.script(Reply(chunks=["x", "y"], input_tokens=7, output_tokens=2))

    async def run() -> tuple[str, object]:
        stream = await litellm.acompletion(
            model="claude-code/sonnet", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        text, usage = "", None
        async for chunk in stream:  # type: ignore[union-attr]
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = getattr(chunk, "usage", None) or usage
        return text, usage

    text, usage = asyncio.run(run())
    assert text == "xy"
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 2)  # type: ignore[attr-defined]


def test_default_model_passes_no_model_flag(provider: ClaudeCodeProvider, mock: MockAnthropic) -> None:
    litellm.completion(model="claude-code/default", messages=MESSAGES)
    assert mock.requests[-1].body["model"]  # the CLI chose the account's default itself


def test_missing_binary_is_503(mock: MockAnthropic, tmp_path: Path) -> None:
    provider = ClaudeCodeProvider(environ={**os.environ, **claude_env(tmp_path, mock.url)})
    params = {"model_info": {"claude_code": {"cli_path": str(tmp_path / "no-such-claude")}}}

    async def run() -> None:
        await provider.acompletion("sonnet", MESSAGES, litellm_params=params, timeout=30)

    with pytest.raises(litellm.ServiceUnavailableError, match="not found"):
        asyncio.run(run())
    assert mock.requests == []
