"""A soak of the stock proxy (issue 28): several long agent sessions at once, until time is up.

Each session is an agent loop on ``/v1/chat/completions``: the model calls the
client's ``lookup`` tool in every round but the last, the client answers with a
result of ``result_bytes``, and the history grows round by round (a coding
agent's shape). Sessions stream or not, some alternate; a streamed session
disconnects in the middle of every ``disconnect_every``-th round's answer and
sends the round again, as a client that gave up and retried does. The mock's
answer depends only on the request (the round count in the system prompt, the
tool results so far), so any number of sessions run against one mock at once.

The soak watches the proxy process: if it ends (a crash: an exit by a signal,
the kernel's ``segfault`` line, a core file, faulthandler's Python stack in the
log), every session stops and the result says how it ended. CPython 3.11's
context variables crash under this load (python/cpython#148891): the reason the
product runs on 3.12.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import Proxy

TOOL = "lookup"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": TOOL,
            "description": "Look up one item.",
            "parameters": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
        },
    }
]
ROUNDS_MARK = re.compile(r"soak session \S+ of (\d+) rounds")
# Five chunks a few milliseconds apart: a disconnect lands in the middle of an answer.
CHUNKS = ["Looking", " up", " the", " next", " item."]
CHUNK_DELAY = 0.005
FINAL = "All items looked up."


def responder(body: dict[str, Any]) -> Reply | None:
    """The model of a soak session: a tool call per round until its last, then the answer.

    Requests that are not a soak session's (none carry the mark) get the mock's default.
    """
    found = ROUNDS_MARK.search(json.dumps(body.get("system", "")))
    if found is None:
        return None
    rounds = int(found.group(1))
    done = sum(
        1
        for message in body.get("messages", [])
        if message.get("role") == "user" and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    )
    if done + 1 >= rounds:
        return Reply(chunks=[FINAL])
    use = {"id": f"toolu_{uuid.uuid4().hex[:20]}", "name": TOOL, "input": {"key": f"item {done}"}}
    return Reply(chunks=CHUNKS, delay=CHUNK_DELAY, tool_uses=[use], stop_reason="tool_use")


def result_text(round_: int, size: int) -> str:
    line = f"row {round_}: " + "x" * 60 + "\n"
    return (line * (size // len(line) + 1))[:size]


@dataclass
class Tally:
    """What a soak did, and how the proxy ended if it did."""

    requests: int = 0
    rounds: int = 0
    sessions_started: int = 0
    sessions_done: int = 0
    disconnects: int = 0
    streamed: int = 0
    whole: int = 0
    errors: list[str] = field(default_factory=list)
    crash: str | None = None
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.requests} requests ({self.streamed} streamed, {self.whole} whole, {self.disconnects} disconnects), "
            f"{self.rounds} rounds, {self.sessions_done} of {self.sessions_started} sessions finished, "
            f"{self.seconds / 60:.1f} minutes, {len(self.errors)} errors"
        )


class ProxyEnded(Exception):
    """The proxy process is gone."""


@dataclass
class Plan:
    """The shape of a soak."""

    sessions: int = 4  # at once
    rounds: int = 40  # per session
    result_bytes: int = 3000
    disconnect_every: int = 7  # a streamed session's every n-th round is cut mid-stream first (0: never)
    seconds: float = 120.0  # new sessions start until this has passed; those under way finish
    max_sessions: int | None = None  # or until this many have started


class Soak:
    def __init__(self, proxy: Proxy, mock: MockAnthropic, plan: Plan) -> None:
        self.proxy, self.mock, self.plan = proxy, mock, plan
        self.tally = Tally()
        self._ended = asyncio.Event()
        self._over = False

    async def run(self) -> Tally:
        self.mock.responder = responder
        started = time.monotonic()
        deadline = started + self.plan.seconds
        limits = httpx.Limits(max_connections=self.plan.sessions * 2)
        async with httpx.AsyncClient(timeout=httpx.Timeout(180, connect=10), limits=limits) as http:
            self._watch(asyncio.get_running_loop())
            slots = [asyncio.create_task(self._slot(http, slot, deadline)) for slot in range(self.plan.sessions)]
            await asyncio.gather(*slots)
        self._over = True
        self.tally.seconds = time.monotonic() - started
        if self.tally.crash is None and self.proxy.process.poll() is not None:
            self.tally.crash = self.proxy.ended()
        return self.tally

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop every session when the proxy process ends (a thread waits for it: no event says so)."""

        def wait() -> None:
            self.proxy.process.wait()
            if self._over:  # stopped after the soak, by whoever started it
                return
            self.tally.crash = self.tally.crash or self.proxy.ended()
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed in between: the soak is over
                    loop.call_soon_threadsafe(self._ended.set)

        threading.Thread(target=wait, name="soak-watch", daemon=True).start()

    def _more(self, deadline: float) -> bool:
        if self._ended.is_set() or time.monotonic() >= deadline:
            return False
        cap = self.plan.max_sessions
        return cap is None or self.tally.sessions_started < cap

    async def _slot(self, http: httpx.AsyncClient, slot: int, deadline: float) -> None:
        while self._more(deadline):
            number = self.tally.sessions_started
            self.tally.sessions_started += 1
            # Slot 0 streams, slot 1 answers whole, the others alternate round by round.
            style = ("stream", "whole", "mixed")[min(slot, 2)]
            try:
                await self._session(http, number, style)
                self.tally.sessions_done += 1
            except ProxyEnded:
                return
            except (httpx.HTTPError, AssertionError, KeyError, ValueError) as error:
                if self.proxy.process.poll() is not None:
                    return
                self.tally.errors.append(f"session {number} ({style}): {type(error).__name__}: {error}"[:500])

    async def _session(self, http: httpx.AsyncClient, number: int, style: str) -> None:
        rounds = self.plan.rounds
        system = f"You are a soak test agent. soak session {number}-{uuid.uuid4().hex[:8]} of {rounds} rounds."
        history: list[dict[str, Any]] = [{"role": "user", "content": "Look up every item, one at a time."}]
        for round_ in range(rounds):
            if self._ended.is_set():
                raise ProxyEnded
            stream = style == "stream" or (style == "mixed" and round_ % 2 == 0)
            body = {"model": "sonnet", "messages": [{"role": "system", "content": system}, *history], "tools": TOOLS}
            every = self.plan.disconnect_every
            if stream and every and round_ % every == every - 1:
                await self._disconnect(http, body)
            calls, text = await (self._streamed(http, body) if stream else self._whole(http, body))
            self.tally.rounds += 1
            if round_ == rounds - 1:
                assert not calls, f"round {round_ + 1} of {rounds}, the last: {calls!r}"
                assert text == FINAL, f"round {round_ + 1} of {rounds}, the last: {text!r}"
                return
            assert len(calls) == 1, f"round {round_ + 1}: {calls!r}"
            assert calls[0]["function"]["name"] == TOOL, f"round {round_ + 1}: {calls!r}"
            call = calls[0]
            history.append({"role": "assistant", "content": text, "tool_calls": [call]})
            history.append(
                {"role": "tool", "tool_call_id": call["id"], "content": result_text(round_, self.plan.result_bytes)}
            )
        raise AssertionError("no answer after the last round")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.proxy.master_key}"}

    async def _post(self, http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
        try:
            return await http.post(f"{self.proxy.url}/v1/chat/completions", headers=self._headers(), json=body)
        except httpx.TransportError:
            if self.proxy.process.poll() is not None:
                raise ProxyEnded from None
            raise

    async def _whole(self, http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        self.tally.requests += 1
        self.tally.whole += 1
        response = await self._post(http, body)
        assert response.status_code == 200, f"{response.status_code} {response.text[:300]}"
        message = response.json()["choices"][0]["message"]
        calls = [
            {"id": c["id"], "type": "function", "function": c["function"]} for c in message.get("tool_calls") or []
        ]
        return calls, message.get("content") or ""

    async def _streamed(self, http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        self.tally.requests += 1
        self.tally.streamed += 1
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        url = f"{self.proxy.url}/v1/chat/completions"
        try:
            async with http.stream("POST", url, headers=self._headers(), json={**body, "stream": True}) as response:
                if response.status_code != 200:
                    raise AssertionError(f"{response.status_code} {(await response.aread())[:300]!r}")
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        raise AssertionError(f"error event: {line[:300]}")
                    for choice in chunk.get("choices", []):
                        delta = choice.get("delta") or {}
                        text.append(delta.get("content") or "")
                        for part in delta.get("tool_calls") or []:
                            call = calls.setdefault(
                                part["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                            )
                            call["id"] = part.get("id") or call["id"]
                            function = part.get("function") or {}
                            call["function"]["name"] += function.get("name") or ""
                            call["function"]["arguments"] += function.get("arguments") or ""
        except httpx.TransportError:
            if self.proxy.process.poll() is not None:
                raise ProxyEnded from None
            raise
        return [calls[i] for i in sorted(calls)], "".join(text)

    async def _disconnect(self, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
        """The round's request, streamed, dropped after its first chunk (the client gives up)."""
        self.tally.requests += 1
        self.tally.disconnects += 1
        url = f"{self.proxy.url}/v1/chat/completions"
        try:
            async with http.stream("POST", url, headers=self._headers(), json={**body, "stream": True}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        break
        except httpx.TransportError:
            if self.proxy.process.poll() is not None:
                raise ProxyEnded from None
            raise


def kernel_segfaults() -> list[str]:
    """The kernel log's ``segfault`` lines (empty where the log cannot be read)."""
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in out.splitlines() if "segfault" in line]
