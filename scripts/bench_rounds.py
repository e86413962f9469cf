"""Benchmark of long conversations (issue 19): uncached input and first-token time, round by round.

An agent loop of ``rounds`` rounds (the model calls a tool, the client sends a
result of ``result_bytes``) on each API (chat completions, responses, messages)
and a chat of as many turns, through the proxy, next to the same conversations
held by one Claude Code process driven directly (what Claude Code itself does).
The mock's prompt cache says, per upstream request, what was read from the
cache and what was not: ``uncached`` is the input written to the cache or not
cached at all, the part a user's window pays for in full.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import httpx

from litellm_claude_code.environment import cli_environment
from litellm_claude_code.runtime.frames import user_message
from litellm_claude_code.runtime.options import QueryPlan, build_options
from litellm_claude_code.settings import DeploymentSettings
from litellm_claude_code.translate.tools import ToolSpec, tool_spec
from tests.anthropic_mock import MockAnthropic, Recorded, Reply
from tests.e2e.harness import Proxy, claude_env, cli_processes

# Long sessions (issue 27): compared over the last rounds and rounds 2-11, their peak memory every RSS_EVERY rounds.
LONG_ROUNDS, WINDOW, RSS_EVERY = 30, 10, 50

TOOL_NAME = "lookup"
SCHEMA = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}
MODES = ("chat", "responses", "messages")
# The reference process runs on an account of its own: its cache is not the proxy's.
REFERENCE_TOKEN = "sk-ant-oat01-bench-reference"


def uncached(request: Recorded) -> int:
    usage = request.usage or {}
    return int(usage.get("input_tokens", 0)) + int(usage.get("cache_creation_input_tokens", 0))


def largest_cli_rss_mib(proxy: Proxy) -> float:
    """RSS of the proxy's largest Claude Code process (a long session's own, past its first rounds), MiB."""
    sizes = []
    for pid in cli_processes(proxy.process.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        sizes += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")]
    return max(sizes, default=0.0)


def _call(round_: int) -> dict[str, Any]:
    return {"id": f"toolu_bench{round_:03d}{uuid.uuid4().hex[:8]}", "key": f"item {round_}"}


def _result(round_: int, size: int) -> str:
    line = f"row {round_}: " + "x" * 60 + "\n"
    return (line * (size // len(line) + 1))[:size]


def _script_loop(mock: MockAnthropic, rounds: int) -> list[dict[str, Any]]:
    """The model's side: a tool call in each round but the last, then an answer."""
    calls = [_call(r) for r in range(rounds - 1)]
    for call in calls:
        use = {"id": call["id"], "name": TOOL_NAME, "input": {"key": call["key"]}}
        mock.script(Reply(chunks=["Looking."], tool_uses=[use], stop_reason="tool_use"))
    mock.script(Reply(chunks=["Done."]))
    return calls


class Client:
    """One API mode's requests for a conversation that grows round by round."""

    def __init__(self, proxy: Proxy, http: httpx.Client, mode: str, system: str) -> None:
        self.proxy, self.http, self.mode, self.system = proxy, http, mode, system
        self.history: list[dict[str, Any]] = []

    def ask(self, text: str) -> float:
        return self._send(self._user(text))

    def answer(self, call: dict[str, Any], result: str) -> float:
        """The previous round's call (as the client got it) and its result; the time to the first text."""
        if self.mode == "chat":
            arguments = json.dumps({"key": call["key"]})
            tool_calls = [
                {"id": call["id"], "type": "function", "function": {"name": TOOL_NAME, "arguments": arguments}}
            ]
            self.history.append({"role": "assistant", "content": "Looking.", "tool_calls": tool_calls})
            return self._send([{"role": "tool", "tool_call_id": call["id"], "content": result}])
        if self.mode == "responses":
            text = {"type": "output_text", "text": "Looking.", "annotations": []}
            self.history.append({"type": "message", "role": "assistant", "status": "completed", "content": [text]})
            arguments = json.dumps({"key": call["key"]})
            function = {"type": "function_call", "call_id": call["id"], "name": TOOL_NAME, "arguments": arguments}
            self.history.append(function)
            return self._send([{"type": "function_call_output", "call_id": call["id"], "output": result}])
        use = {"type": "tool_use", "id": call["id"], "name": TOOL_NAME, "input": {"key": call["key"]}}
        self.history.append({"role": "assistant", "content": [{"type": "text", "text": "Looking."}, use]})
        block = {"type": "tool_result", "tool_use_id": call["id"], "content": result}
        return self._send([{"role": "user", "content": [block]}])

    def reply(self, text: str) -> None:
        """A plain answer, as the client keeps it."""
        if self.mode == "responses":
            content = [{"type": "output_text", "text": text, "annotations": []}]
            self.history.append({"type": "message", "role": "assistant", "status": "completed", "content": content})
        else:
            self.history.append({"role": "assistant", "content": text})

    def _user(self, text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": text}]

    def _send(self, new: list[dict[str, Any]]) -> float:
        self.history += new
        path, body, marker = self._request()
        headers = {"Authorization": f"Bearer {self.proxy.master_key}"}
        started, first = time.monotonic(), float("nan")
        with self.http.stream("POST", f"{self.proxy.url}{path}", headers=headers, json=body) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.read()[:300]!r}")
            for line in response.iter_lines():
                if first != first and marker in line:  # NaN until the first text
                    first = time.monotonic() - started
        return first

    def _request(self) -> tuple[str, dict[str, Any], str]:
        if self.mode == "chat":
            tools = [{"type": "function", "function": {"name": TOOL_NAME, "parameters": SCHEMA}}]
            messages = [{"role": "system", "content": self.system}, *self.history]
            body = {"model": "sonnet", "messages": messages, "tools": tools, "stream": True}
            return "/v1/chat/completions", body, '"content":"'
        if self.mode == "responses":
            tools = [{"type": "function", "name": TOOL_NAME, "parameters": SCHEMA}]
            body = {"model": "sonnet", "instructions": self.system, "input": self.history, "tools": tools}
            return "/v1/responses", {**body, "stream": True}, "response.output_text.delta"
        tools = [{"name": TOOL_NAME, "input_schema": SCHEMA}]
        body = {"model": "sonnet", "max_tokens": 512, "system": self.system, "messages": self.history}
        return "/v1/messages", {**body, "tools": tools, "stream": True}, "text_delta"


def proxy_loop(
    proxy: Proxy, mock: MockAnthropic, mode: str, rounds: int, size: int, moved: Proxy | None = None
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Per round of an agent loop through the proxy: first-token seconds, uncached input tokens and, every
    ``RSS_EVERY`` rounds, the largest Claude Code process's RSS; then, given ``moved`` (another replica
    on the same mock), the turn after the loop sent there: its first token, upstream requests and input."""
    calls = _script_loop(mock, rounds)
    out: list[dict[str, float]] = []
    move: dict[str, float] = {}
    with httpx.Client(timeout=120) as http:
        client = Client(proxy, http, mode, f"bench loop {uuid.uuid4()}")
        for round_ in range(rounds):
            seen = len(mock.requests)
            if round_ == 0:
                first = client.ask("Look up every item.")
            else:
                first = client.answer(calls[round_ - 1], _result(round_, size))
            out.append({"first_token_s": first, "uncached": float(sum(uncached(r) for r in mock.requests[seen:]))})
            if (round_ + 1) % RSS_EVERY == 0 or round_ + 1 == rounds:
                out[-1]["largest_cli_rss_mib"] = largest_cli_rss_mib(proxy)
        if moved is not None:
            client.reply("Done.")
            client.proxy = moved
            mock.script(Reply(chunks=["Moved."]))
            seen = len(mock.requests)
            first = client.ask("One more question, on another replica.")
            requests = mock.requests[seen:]
            usage = requests[-1].usage or {} if requests else {}
            move = {
                "first_token_s": first,
                "upstream_requests": float(len(requests)),
                "uncached": float(sum(uncached(r) for r in requests)),
                "cache_read": float(usage.get("cache_read_input_tokens", 0)),
            }
    return out, move


def proxy_chat(proxy: Proxy, mock: MockAnthropic, turns: int) -> list[dict[str, float]]:
    """Per turn of a chat through the proxy (chat completions): first-token seconds and uncached input."""
    out = []
    with httpx.Client(timeout=120) as http:
        client = Client(proxy, http, "chat", f"bench chat {uuid.uuid4()}")
        for turn in range(turns):
            mock.script(Reply(chunks=[f"Answer {turn}."]))
            seen = len(mock.requests)
            first = client.ask(f"Question {turn}: " + "tell me more " * 20)
            client.reply(f"Answer {turn}.")
            out.append({"first_token_s": first, "uncached": float(sum(uncached(r) for r in mock.requests[seen:]))})
    return out


async def kept_process(
    mock: MockAnthropic, home: Path, rounds: int, size: int, loop: bool
) -> tuple[list[float], list[float]]:
    """The same conversation on one Claude Code process held throughout: uncached input per round, and
    the seconds from sending each round to its first text (what Claude Code itself costs per round)."""
    env = {**claude_env(home, mock.url), **cli_environment(DeploymentSettings(), {})}
    env["CLAUDE_CODE_OAUTH_TOKEN"] = REFERENCE_TOKEN
    spec: ToolSpec = tool_spec({"tools": [{"type": "function", "function": {"name": TOOL_NAME, "parameters": SCHEMA}}]})
    plan = QueryPlan(
        model="sonnet", system_prompt=f"bench kept {uuid.uuid4()}", cwd=tempfile.mkdtemp(), env=env, tools=spec
    )
    client = sdk.ClaudeSDKClient(build_options(plan, DeploymentSettings()))
    await client.connect()
    out, firsts = [], []
    try:
        calls = _script_loop(mock, rounds) if loop else []
        for round_ in range(rounds):
            if loop:
                content: list[dict[str, Any]] = (
                    [{"type": "text", "text": "Look up every item."}]
                    if round_ == 0
                    else [
                        {
                            "type": "tool_result",
                            "tool_use_id": calls[round_ - 1]["id"],
                            "content": _result(round_, size),
                        }
                    ]
                )
            else:
                mock.script(Reply(chunks=[f"Answer {round_}."]))
                content = [{"type": "text", "text": f"Question {round_}: " + "tell me more " * 20}]
            seen = len(mock.requests)
            started, first = time.monotonic(), float("nan")
            await client.query(_one(user_message(content)))
            async for message in client.receive_response():
                if first != first and _is_text(message):  # NaN until the first text
                    first = time.monotonic() - started
            out.append(float(sum(uncached(r) for r in mock.requests[seen:])))
            firsts.append(first)
    finally:
        await client.disconnect()
    return out, firsts


def _is_text(message: Any) -> bool:
    if isinstance(message, sdk.StreamEvent):
        return bool(message.event.get("delta", {}).get("type") == "text_delta")
    return isinstance(message, sdk.AssistantMessage)


async def _one(frame: dict[str, Any]) -> Any:
    yield frame


def rounds_report(
    proxy: Proxy, mock: MockAnthropic, home: Path, rounds: int, size: int, moved: Proxy | None = None
) -> dict[str, Any]:
    """Every API mode's agent loop and a chat through the proxy, next to one kept process; given
    ``moved`` (another replica), each loop's conversation continued there once."""
    mock.enable_prompt_cache()
    report: dict[str, Any] = {"rounds": rounds, "result_bytes": size}
    report["kept_loop"], report["kept_loop_first"] = asyncio.run(kept_process(mock, home, rounds, size, loop=True))
    report["kept_chat"], _ = asyncio.run(kept_process(mock, home, rounds, size, loop=False))
    for mode in MODES:
        report[f"loop_{mode}"], move = proxy_loop(proxy, mock, mode, rounds, size, moved)
        if move:
            report[f"moved_{mode}"] = move
    report["chat"] = proxy_chat(proxy, mock, rounds)
    return report


def ratios(proxy_rounds: list[dict[str, float]], kept: list[float]) -> Iterator[float]:
    """Uncached input of each round from the second on, through the proxy over one kept process."""
    for row, reference in list(zip(proxy_rounds, kept, strict=True))[1:]:
        yield row["uncached"] / reference if reference else float("inf")


def round_targets(report: dict[str, Any]) -> dict[str, tuple[float, str, bool]]:
    """Issue 19's targets, each as (measured, goal, met)."""
    out: dict[str, tuple[float, str, bool]] = {}
    chat_firsts = [row["first_token_s"] for row in report["chat"][1:]]
    chat_p50 = statistics.median(chat_firsts)
    for mode in MODES:
        rows = report[f"loop_{mode}"]
        worst = max(abs(r - 1) for r in ratios(rows, report["kept_loop"]))
        out[f"{mode} loop: uncached input per round vs one kept process, worst deviation"] = (
            worst,
            "<= 0.05",
            worst <= 0.05,
        )
        firsts = [row["first_token_s"] for row in rows[1:]]
        ratio = statistics.median(firsts) / chat_p50
        out[f"{mode} loop: tool-result round first token p50 / continued chat turn p50"] = (
            ratio,
            "<= 1.5",
            ratio <= 1.5,
        )
        growth = _late_over_early(rows)
        out[f"{mode} loop: late rounds' first token / early rounds'"] = (growth, "<= 1.10", growth <= 1.10)
        if len(rows) >= LONG_ROUNDS:
            out.update(_long_targets(mode, rows, report.get("kept_loop_first", []), report.get(f"moved_{mode}")))
    worst = max(abs(r - 1) for r in ratios(report["chat"], report["kept_chat"]))
    out["chat: uncached input per turn vs one kept process, worst deviation"] = (worst, "<= 0.05", worst <= 0.05)
    return out


def _long_targets(
    mode: str, rows: list[dict[str, float]], kept: list[float], move: dict[str, float] | None
) -> dict[str, tuple[float, str, bool]]:
    """Issue 27's targets for a long session: the last rounds as fast as rounds 2-11 and as one kept Claude
    Code process at the same rounds; the turn after a move to another replica within a second."""
    n = len(rows)
    firsts = [row["first_token_s"] for row in rows]
    last = statistics.median(firsts[-WINDOW:])
    out: dict[str, tuple[float, str, bool]] = {}
    name = f"{mode} loop: first token, rounds {n - WINDOW + 1}-{n}"
    growth = last / statistics.median(firsts[1 : WINDOW + 1])
    out[f"{name} / rounds 2-{WINDOW + 1}"] = (growth, "<= 1.25", growth <= 1.25)
    if len(kept) == n:
        reference = last / statistics.median(kept[-WINDOW:])
        out[f"{name} / one kept Claude Code process's"] = (reference, "<= 1.25", reference <= 1.25)
    if move:
        seconds = move["first_token_s"]
        out[f"{mode} loop: first token of the turn after a move to another replica at {n} rounds, s"] = (
            seconds,
            "<= 1.0",
            seconds <= 1.0,
        )
    return out


def _late_over_early(rows: list[dict[str, float]]) -> float:
    """First token of the last rounds over the first tool-result rounds (medians of five: one round is noise)."""
    firsts = [row["first_token_s"] for row in rows[1:]]
    width = max(1, min(5, len(firsts) // 2))
    return statistics.median(firsts[-width:]) / statistics.median(firsts[:width])


def print_rounds(report: dict[str, Any]) -> None:
    rounds = report["rounds"]
    header = f"{'round':>5s} {'kept loop':>9s}" + "".join(f" {m + ' loop':>15s}" for m in MODES)
    print(f"uncached input tokens per round (first token ms), {rounds} rounds, {report['result_bytes']} B results:")
    print(header + f" {'kept chat':>9s} {'chat':>15s}")
    for i in range(rounds):
        cells = [f"{i + 1:5d}", f"{report['kept_loop'][i]:9.0f}"]
        for mode in MODES:
            row = report[f"loop_{mode}"][i]
            cells.append(f"{row['uncached']:7.0f} ({row['first_token_s'] * 1000:5.0f})")
        row = report["chat"][i]
        cells += [f"{report['kept_chat'][i]:9.0f}", f"{row['uncached']:7.0f} ({row['first_token_s'] * 1000:5.0f})"]
        print(" ".join(cells))
    firsts = report.get("kept_loop_first", [])
    for mode in MODES:
        rss = [
            (i + 1, row["largest_cli_rss_mib"])
            for i, row in enumerate(report[f"loop_{mode}"])
            if "largest_cli_rss_mib" in row
        ]
        print(f"{mode} loop: largest Claude Code process RSS " + ", ".join(f"round {r}: {m:.0f} MiB" for r, m in rss))
        move = report.get(f"moved_{mode}")
        if move:
            print(
                f"{mode} loop, the turn after a move to another replica: "
                f"first token {move['first_token_s'] * 1000:.0f} ms, "
                f"{move['upstream_requests']:.0f} upstream request(s), uncached input {move['uncached']:.0f}, "
                f"cache read {move['cache_read']:.0f}"
            )
    if firsts:
        print("kept process first token ms, rounds 2-11: " + " ".join(f"{f * 1000:.0f}" for f in firsts[1:11]))
        print("kept process first token ms, last 10 rounds: " + " ".join(f"{f * 1000:.0f}" for f in firsts[-10:]))
