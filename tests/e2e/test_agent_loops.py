"""Agent loops (issue 10): ten rounds of call -> result, then an answer, in every API mode.

At every round the mock checks what reached the model: the client's own tools,
by name with their schemas (the round carrying tool results included), every
earlier round's results as ``tool_result`` blocks of a real user turn, and no
text the client did not send. And, with the mock's prompt cache on, that each
round continues the previous one on its process (issue 19): every request
extends the previous one and reads from the cache all the previous one wrote.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.anthropic_mock import MockAnthropic, Recorded, Reply

from .cache_check import assert_each_extends_the_previous
from .harness import Proxy

pytestmark = pytest.mark.e2e

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TIME_SCHEMA = {"type": "object", "properties": {"zone": {"type": "string"}}}
SCHEMAS = {"get_weather": WEATHER_SCHEMA, "get_time": TIME_SCHEMA}
CHAT_TOOLS = [
    {"type": "function", "function": {"name": name, "description": f"{name} tool", "parameters": schema}}
    for name, schema in SCHEMAS.items()
]
# What a normal tool round must never log (the old interrupted-turn path did).
LOG_PROBLEMS = ("Task exception was never retrieved", "Traceback", "ERROR", "WARNING", "not ready for writing")

# The model's side of the loop: round 1 one call, round 2 two parallel calls,
# round 3 a call whose result the client reports as an error, then the answer.
ROUNDS: list[list[tuple[str, str, dict[str, Any]]]] = [
    [("toolu_r1", "get_weather", {"city": "Paris"})],
    [("toolu_r2a", "get_weather", {"city": "Oslo"}), ("toolu_r2b", "get_time", {"zone": "CET"})],
    [("toolu_r3", "get_weather", {"city": "Atlantis"})],
    # Seven more rounds: ten in all, each on the process that made its calls (issue 19).
    *([(f"toolu_r{n}", "get_time", {"zone": f"UTC+{n}"})] for n in range(4, 11)),
]
RESULTS = {
    "toolu_r1": "sunny, 21C",
    "toolu_r2a": "snow, -3C",
    "toolu_r2b": "14:05",
    "toolu_r3": "error: no such city",
    **{f"toolu_r{n}": f"{n}:00 " + "x" * 3000 for n in range(4, 11)},  # 3 kB results
}
FAILED = {"toolu_r3"}
FINAL = "Paris is sunny, Oslo snowy; Atlantis does not exist."


def _script(mock: MockAnthropic) -> None:
    mock.enable_prompt_cache()
    for calls in ROUNDS:
        uses = [{"id": i, "name": n, "input": a} for i, n, a in calls]
        mock.script(Reply(chunks=["Checking."], tool_uses=uses, stop_reason="tool_use"))
    mock.script(Reply(chunks=[FINAL]))


def _check_round(request: Recorded, done: int) -> None:
    """The upstream request of round ``done`` + 1, after ``done`` rounds of results."""
    assert request.offered() == SCHEMAS
    rounds = request.tool_results()
    assert len(rounds) == done
    for calls, blocks in zip(ROUNDS[:done], rounds, strict=True):
        assert [b["tool_use_id"] for b in blocks] == [i for i, _, _ in calls]
        for block in blocks:
            assert json.dumps(block["content"]).count(RESULTS[block["tool_use_id"]]) == 1
            assert block.get("is_error", False) is (block["tool_use_id"] in FAILED)
    body = json.dumps(request.body)
    assert "Continue from where you left off" not in body
    assert "Tool call interrupted" not in body
    turns = request.turns()
    # Real alternating turns: the user's question, then (assistant calls, user results) per round.
    assert [t["role"] for t in turns] == ["user"] + ["assistant", "user"] * done
    for turn, calls in zip(turns[1::2], ROUNDS[:done], strict=True):
        uses = [b for b in turn["content"] if b["type"] == "tool_use"]
        assert [(u["id"], u["name"], u["input"]) for u in uses] == calls


def _log_since(proxy: Proxy, offset: int) -> str:
    return proxy.log.read_bytes()[offset:].decode(errors="replace")


def _assert_clean_log(proxy: Proxy, offset: int) -> None:
    log = _log_since(proxy, offset)
    problems = [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)]
    assert problems == [], "\n".join(problems)


def _chat_round(client: openai.OpenAI, messages: list[dict[str, Any]], stream: bool) -> tuple[str, list[Any], str]:
    """One chat completion: (content, tool calls as (id, name, arguments), finish reason)."""
    if not stream:
        choice = client.chat.completions.create(model="sonnet", messages=messages, tools=CHAT_TOOLS).choices[0]
        calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []]
        return choice.message.content or "", calls, choice.finish_reason
    text, finish = "", ""
    parts: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(model="sonnet", messages=messages, tools=CHAT_TOOLS, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            part = parts.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
            part["id"] = call.id or part["id"]
            part["name"] += call.function.name or ""
            part["arguments"] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    calls = [(p["id"], p["name"], json.loads(p["arguments"])) for _, p in sorted(parts.items())]
    return text, calls, finish


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_chat_completions_three_round_loop(
    client: openai.OpenAI, mock: MockAnthropic, proxy: Proxy, stream: bool
) -> None:
    _script(mock)
    offset = proxy.log.stat().st_size
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris, Oslo and Atlantis?"}]
    for done, expected in enumerate(ROUNDS):
        text, calls, finish = _chat_round(client, messages, stream)
        _check_round(mock.requests[-1], done)
        assert (text, finish) == ("Checking.", "tool_calls")
        assert [(i, n, a) for i, n, a in calls] == expected
        tool_calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in calls
        ]
        messages.append({"role": "assistant", "content": text, "tool_calls": tool_calls})
        for call_id, _, _ in calls:
            result = {"role": "tool", "tool_call_id": call_id, "content": RESULTS[call_id]}
            messages.append({**result, "is_error": True} if call_id in FAILED else result)
    text, calls, finish = _chat_round(client, messages, stream)
    assert (text, calls, finish) == (FINAL, [], "stop")
    _check_round(mock.requests[-1], len(ROUNDS))
    assert len(mock.requests) == len(ROUNDS) + 1
    assert_each_extends_the_previous(mock.requests)
    _assert_clean_log(proxy, offset)


def test_tool_choice_and_parallel_rule_apply_on_a_result_round(client: openai.OpenAI, mock: MockAnthropic) -> None:
    _script(mock)
    ask = {"role": "user", "content": "Weather?"}
    call = {"id": "toolu_r1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [
        ask,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_r1", "content": RESULTS["toolu_r1"]},
    ]
    client.chat.completions.create(
        model="sonnet",
        messages=messages,
        tools=CHAT_TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        parallel_tool_calls=False,
    )
    request = mock.requests[-1]
    assert list(request.offered()) == ["get_time"]
    system = " ".join(b["text"] for b in request.body["system"])
    assert "calling the tool get_time" in system
    assert "at most one tool" in system
    assert len(request.tool_results()) == 1


def test_responses_three_round_loop(client: openai.OpenAI, mock: MockAnthropic, proxy: Proxy) -> None:
    _script(mock)
    offset = proxy.log.stat().st_size
    tools = [{"type": "function", "name": name, "parameters": schema} for name, schema in SCHEMAS.items()]
    items: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris, Oslo and Atlantis?"}]
    for done, expected in enumerate(ROUNDS):
        response = client.responses.create(model="sonnet", input=items, tools=tools)
        _check_round_responses(mock.requests[-1], done)
        calls = [o for o in response.output if o.type == "function_call"]
        assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == expected
        # The whole output goes back, as agent SDKs send it: the text with the calls.
        items += [o.model_dump(exclude_none=True) for o in response.output]
        for c in calls:
            items.append({"type": "function_call_output", "call_id": c.call_id, "output": RESULTS[c.call_id]})
    response = client.responses.create(model="sonnet", input=items, tools=tools)
    assert response.output_text == FINAL
    _check_round_responses(mock.requests[-1], len(ROUNDS))
    assert_each_extends_the_previous(mock.requests)
    _assert_clean_log(proxy, offset)


def _check_round_responses(request: Recorded, done: int) -> None:
    # function_call_output has no error flag: every result arrives as a plain one.
    assert request.offered() == SCHEMAS
    rounds = request.tool_results()
    assert [[b["tool_use_id"] for b in blocks] for blocks in rounds] == [[i for i, _, _ in c] for c in ROUNDS[:done]]
    for blocks in rounds:
        for block in blocks:
            assert RESULTS[block["tool_use_id"]] in json.dumps(block["content"])
            assert not block.get("is_error")
    assert "Continue from where you left off" not in json.dumps(request.body)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_messages_three_round_loop(proxy: Proxy, mock: MockAnthropic, stream: bool) -> None:
    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.master_key, max_retries=0, timeout=60)
    _script(mock)
    offset = proxy.log.stat().st_size
    tools = [{"name": n, "description": f"{n} tool", "input_schema": s} for n, s in SCHEMAS.items()]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris, Oslo and Atlantis?"}]

    def ask() -> Any:
        request = {"model": "sonnet", "max_tokens": 200, "tools": tools, "messages": messages}
        if not stream:
            return claude.messages.create(**request)
        with claude.messages.stream(**request) as events:
            return events.get_final_message()

    for done, expected in enumerate(ROUNDS):
        message = ask()
        _check_round(mock.requests[-1], done)
        uses = [b for b in message.content if b.type == "tool_use"]
        assert [(u.id, u.name, u.input) for u in uses] == expected
        assert message.stop_reason == "tool_use"
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]})
        results = [
            {"type": "tool_result", "tool_use_id": u.id, "content": RESULTS[u.id], "is_error": u.id in FAILED}
            for u in uses
        ]
        messages.append({"role": "user", "content": results})
    final = ask()
    assert [b.text for b in final.content if b.type == "text"] == [FINAL]
    _check_round(mock.requests[-1], len(ROUNDS))
    assert_each_extends_the_previous(mock.requests)
    _assert_clean_log(proxy, offset)
