"""Equivalence (issue 11): for the same request, every kind of process sends upstream the same request.

A process started for the request with all its options (the reference), a spare
initialised at request time, an idle process reused after a rewind, each given
the history: the bodies and headers that reach the mock are the same, with ids,
the working directory's path, session and device ids aside. With a history, the
reference is a process that answered every earlier turn itself (issue 19: what
a conversation that never moved sends); a one-shot process resuming a written
transcript sends the same turns with Claude Code's environment note after the
newest one instead (docs/prompt-cache.md). Run on the real SDK and CLI
(in-process runtime, no proxy).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code.request import ChatRequest, from_litellm
from litellm_claude_code.runtime import runtime as rt
from tests.anthropic_mock import MockAnthropic, Recorded, Reply

from .harness import claude_env

pytestmark = pytest.mark.e2e

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
PDF = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SYSTEM = {"role": "system", "content": "You answer in one word."}
HISTORY = [
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "second question"},
    {"role": "assistant", "content": "second answer"},
]
CALL = {"id": "toolu_eq1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
CASES: dict[str, tuple[str, list[dict[str, Any]], dict[str, Any]]] = {
    "text": ("sonnet", [SYSTEM, {"role": "user", "content": "hi"}], {}),
    "history": ("sonnet", [SYSTEM, *HISTORY, {"role": "user", "content": "third"}], {}),
    # The controls' environment survives the replay's (apply_flag_settings replaces "env" whole).
    "history, thinking off and max_tokens": (
        "sonnet",
        [SYSTEM, *HISTORY, {"role": "user", "content": "third"}],
        {"reasoning_effort": "none", "max_tokens": 40},
    ),
    "image and pdf": (
        "sonnet",
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}"}},
                ],
            }
        ],
        {},
    ),
    "tools": ("sonnet", [SYSTEM, {"role": "user", "content": "weather?"}], {"tools": [WEATHER]}),
    "tool results": (
        "sonnet",
        [
            SYSTEM,
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "toolu_eq1", "content": "sunny"},
        ],
        {"tools": [WEATHER], "tool_choice": "required", "parallel_tool_calls": False},
    ),
    "thinking off": ("sonnet", [SYSTEM, {"role": "user", "content": "hi"}], {"reasoning_effort": "none"}),
    "effort high": ("sonnet", [SYSTEM, {"role": "user", "content": "hi"}], {"reasoning_effort": "high"}),
    "max_tokens and stop": ("sonnet", [SYSTEM, {"role": "user", "content": "hi"}], {"max_tokens": 50, "stop": ["x"]}),
    "opus": ("opus", [SYSTEM, {"role": "user", "content": "hi"}], {}),
    "haiku": ("haiku", [SYSTEM, {"role": "user", "content": "hi"}], {}),
    "default": ("default", [SYSTEM, {"role": "user", "content": "hi"}], {}),
}
# Headers that carry a process's identity or the body's length.
VARYING_HEADERS = {"x-claude-code-session-id", "content-length", "x-client-request-id"}
WORKDIR = re.compile(r"/[^\s\"']*claude-code-(?:req-[A-Za-z0-9_]+|work)")


def _normal(recorded: Recorded) -> dict[str, Any]:
    body = json.loads(WORKDIR.sub("<cwd>", json.dumps(recorded.body)))
    body.pop("metadata", None)  # the process's session and device ids
    headers = {k: v for k, v in recorded.headers.items() if k not in VARYING_HEADERS}
    return {"body": body, "headers": headers}


def _request(
    environ: dict[str, str], model: str, messages: list[dict[str, Any]], params: dict[str, Any]
) -> ChatRequest:
    litellm_params = {"model": f"claude-code/{model}", "model_info": {"claude_code": {}}}
    return from_litellm(model, messages, {"optional_params": params, "litellm_params": litellm_params}, environ)


async def _drain(runtime: rt.Runtime, request: ChatRequest, reply: str | None = None) -> None:
    """The request's turn on the runtime; ``reply``: what the answer says its process holds after."""
    async with runtime.turn(request) as turn:
        async with contextlib.aclosing(turn.messages()) as messages:
            async for _ in messages:
                pass
        turn.hold(None if reply is None else [{"type": "text", "text": reply}])


async def _fresh(request: ChatRequest) -> None:
    # A process of its own: all options at start and the history resumed, or
    # (tool results) the history fed in.
    async with rt.Runtime.once() as runtime:
        await _drain(runtime, request)


async def _spare(request: ChatRequest) -> None:
    runtime = rt.Runtime(spares=False)
    await runtime.prewarm(request, 1)
    await _drain(runtime, request)
    assert runtime.stats["spare"] == 1
    await runtime.close()


def _live(mock: MockAnthropic, environ: dict[str, str], case: str) -> Callable[[ChatRequest], Any]:
    """The conversation answered turn by turn on one process, the mock answering as the history says."""
    model, messages, params = CASES[case]

    async def run(request: ChatRequest) -> None:
        runtime = rt.Runtime(spares=False)
        for end, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            mock.script(Reply(chunks=[message["content"]]))
            earlier = _request(environ, model, messages[:end], params)
            await _drain(runtime, earlier, message["content"])
        await _drain(runtime, request)
        assert runtime.stats["live"] == len(request.conversation.history) // 2
        await runtime.close()

    return run


def _without_notes(sent: dict[str, Any]) -> dict[str, Any]:
    """A request with Claude Code's own system messages (its environment note) left out of the messages."""
    body = dict(sent["body"])
    body["messages"] = [
        {**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
        for m in body["messages"]
        if m["role"] != "system"
    ]
    return {**sent, "body": body}


def _reused(warm_up: ChatRequest) -> Callable[[ChatRequest], Any]:
    async def run(request: ChatRequest) -> None:
        runtime = rt.Runtime(spares=False)
        await _drain(runtime, warm_up, "ok")  # an unrelated conversation first
        await _drain(runtime, request)
        assert runtime.stats["reused"] == 1
        await runtime.close()

    return run


@pytest.fixture
def environ(mock: MockAnthropic, tmp_path: Path) -> dict[str, str]:
    """What the provider would run Claude Code with: this machine's environment, pointed at the mock."""
    return {**os.environ, **claude_env(tmp_path, mock.url)}


@pytest.mark.parametrize("case", list(CASES))
def test_every_kind_of_process_sends_the_same_request(environ: dict[str, str], mock: MockAnthropic, case: str) -> None:
    model, messages, params = CASES[case]
    mock.default = Reply(chunks=["ok"])
    request = _request(environ, model, messages, params)
    warm_up = _request(environ, model, [{"role": "system", "content": "Other."}, {"role": "user", "content": "x"}], {})
    resumed = bool(request.conversation.history) and not request.conversation.answers_tool_calls
    ways: dict[str, Callable[[ChatRequest], Any]] = {"reference": _live(mock, environ, case) if resumed else _fresh}
    ways["spare"] = _spare
    if not request.controls.tools.offered:  # a tool conversation never takes a used process
        ways["reused"] = _reused(warm_up)
    if resumed:
        ways["fresh"] = _fresh
    sent: dict[str, dict[str, Any]] = {}
    for way, run in ways.items():
        mock.requests.clear()
        asyncio.run(run(request))
        sent[way] = _normal(mock.requests[-1])  # the request's own (a reused process served a warm-up first)
    reference = sent.pop("reference")
    if resumed:  # a resumed transcript: the same turns, its environment note after the newest one
        assert _without_notes(sent.pop("fresh")) == _without_notes(reference)
    for way, seen in sent.items():
        assert seen == reference, f"{way} differs from the reference for {case}"


def test_a_searched_request_differs_from_an_unsearched_one_by_websearch_only(
    environ: dict[str, str], mock: MockAnthropic
) -> None:
    """Issue 23: search adds Claude Code's WebSearch tool to the request, and nothing else of Claude Code's."""
    mock.default = Reply(chunks=["ok"])
    messages = [SYSTEM, {"role": "user", "content": "hi"}]
    sent = {}
    asks: dict[str, dict[str, Any]] = {"plain": {}, "searched": {"web_search_options": {}}}
    for name, params in asks.items():
        mock.requests.clear()
        asyncio.run(_fresh(_request(environ, "sonnet", messages, params)))
        sent[name] = _normal(mock.requests[-1])
    searched_tools = sent["searched"]["body"].pop("tools")
    assert [t["name"] for t in searched_tools] == ["WebSearch"]
    assert sent["plain"]["body"].pop("tools", []) == []
    assert sent["searched"] == sent["plain"]
