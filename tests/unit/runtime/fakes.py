"""Fakes for the runtime's seam (open, attach, connect, control), recording what each was asked."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from litellm_claude_code.request import ChatRequest
from litellm_claude_code.runtime.runtime import Runtime
from litellm_claude_code.sdk_seam import Seam
from litellm_claude_code.settings import DeploymentSettings
from litellm_claude_code.translate.params import controls_from
from litellm_claude_code.translate.prompt import convert

from ..sdk_messages import result

QUIET = dataclasses.replace(result(), num_turns=0)  # what the CLI answers to a shouldQuery:false frame
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


class FakeClient:
    """A connected client: records frames, answers a user frame with a result (``results`` first, if any)."""

    def __init__(
        self,
        results: list[Any] | None = None,
        on_query: Callable[[FakeClient], Awaitable[None]] | None = None,
    ) -> None:
        self.sent: list[dict[str, Any]] = []
        self.disconnected = False
        self._results = results if results is not None else []
        self._on_query = on_query

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None:
        self.sent += [frame async for frame in prompt]
        if self._on_query is not None and self.sent[-1].get("shouldQuery") is not False:
            on_query, self._on_query = self._on_query, None
            await on_query(self)

    async def receive_response(self) -> AsyncIterator[Any]:
        if self.sent[-1].get("shouldQuery") is False:
            yield QUIET
        else:
            answer = self._results.pop(0) if self._results else result()
            for message in answer if isinstance(answer, list) else [answer]:  # a list: the turn's messages
                yield message

    async def disconnect(self) -> None:
        self.disconnected = True

    def prompts(self) -> list[list[dict[str, Any]]]:
        return [f["message"]["content"] for f in self.sent if f["type"] == "user" and "shouldQuery" not in f]


class FakeTransport:
    """A spare's running transport: records what is written to it, reads nothing, can be closed."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.closed = False

    async def connect(self) -> None:
        pass

    async def write(self, data: str) -> None:
        self.written.append(data)

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        return
        yield {}

    async def close(self) -> None:
        self.closed = True

    def is_ready(self) -> bool:
        return not self.closed

    async def end_input(self) -> None:
        pass


class Fakes:
    """The seam a Runtime starts and talks to processes through (``sdk_seam.Seam``), recording each call.

    ``starts``: when set, every spare's start waits for it, as a real start
    takes time; a test sets it when the start may go on.
    """

    def __init__(self, tmp_path: Path, rewound: bool = True) -> None:
        self.tmp_path = tmp_path
        self.rewound = rewound
        self.starts: asyncio.Event | None = None
        self.starting = asyncio.Event()  # set when a start waits on ``starts``
        self.spawned = 0
        self.connected: list[Any] = []  # cold starts: their options
        self.attached: list[dict[str, Any]] = []  # initialize extras
        self.controls: list[dict[str, Any]] = []
        self.clients: list[FakeClient] = []
        self.transports: list[FakeTransport] = []  # the spares' transports
        self.results: list[Any] = []  # what the next clients answer their first queried frames with
        self.on_query: Callable[[FakeClient], Awaitable[None]] | None = None  # run at the next client's first query

    async def _start(self) -> None:
        if self.starts is not None:
            self.starting.set()
            await self.starts.wait()

    async def open(self, options: Any) -> FakeTransport:
        self.spawned += 1
        await self._start()
        transport = FakeTransport()
        self.transports.append(transport)
        return transport

    async def attach(self, transport: Any, options: Any, extra: dict[str, Any]) -> FakeClient:
        self.attached.append(extra)
        return self._client()

    async def connect(self, options: Any) -> FakeClient:
        self.connected.append(options)
        return self._client()

    async def control(self, client: Any, request: dict[str, Any]) -> dict[str, Any]:
        self.controls.append(request)
        if request["subtype"] == "rewind_conversation":
            return {"rewound": self.rewound}
        if request["subtype"] == "set_model":
            return {"model": "claude-sonnet-5-5"}
        return {}

    def seam(self, **overrides: Any) -> Seam:
        seams: dict[str, Any] = dict(
            open=self.open, attach=self.attach, connect=self.connect, control=self.control, pid=lambda _: None
        )
        return Seam(**{**seams, **overrides})

    def _client(self) -> FakeClient:
        client = FakeClient(self.results, self.on_query)
        self.on_query = None
        self.clients.append(client)
        return client

    def runtime(self, seam: Seam | None = None, **overrides: Any) -> Runtime:
        return Runtime(seam or self.seam(), **{"busy": idle_cpu, "rss": lambda process: 200.0, **overrides})


async def idle_cpu() -> float:
    return 0.0


async def saturated_cpu() -> float:
    """A CPU always busy, measured over a short window as ``spares.cpu_busy`` does."""
    await asyncio.sleep(0.01)
    return 1.0


def request(
    messages: list[dict[str, Any]],
    timeout: float = 30.0,
    pool_size: int = 1,
    max_concurrent: int = 8,
    work_root: str | None = None,
    config_dir: str = "/cfg",
    **params: Any,
) -> ChatRequest:
    settings = DeploymentSettings(pool_size=pool_size, max_concurrent=max_concurrent, work_root=work_root)
    return ChatRequest(
        "sonnet", settings, convert(messages), controls_from(params), timeout, {"HOME": "/h"}, config_dir, "deployment"
    )


def ask(text: str, system: str = "Be terse.") -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


async def serve(runtime: Runtime, chat: ChatRequest, reply: str | list[dict[str, Any]] | None = "ok") -> list[Any]:
    """The turn's messages; ``reply``: what the answer tells the runtime its process holds (None: nothing)."""
    async with runtime.turn(chat) as turn:
        async with contextlib.aclosing(turn.messages()) as messages:
            served = [m async for m in messages]
        turn.hold([{"type": "text", "text": reply}] if isinstance(reply, str) else reply)
    return served
