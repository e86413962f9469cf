"""The typed seams between the runtime and the Claude Agent SDK.

The runtime drives a connected ``ClaudeSDKClient`` (or a test's fake), calls
``claude_agent_sdk.query`` (or a test's replay), and hands a spare's running
transport to a new client. These Protocols are exactly what it uses of each.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Protocol

from claude_agent_sdk import ClaudeAgentOptions, Message
from claude_agent_sdk._internal.transport import Transport


class Client(Protocol):
    """A connected ``ClaudeSDKClient``: the turn is sent, its messages read, the process let go."""

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None: ...

    def receive_response(self) -> AsyncIterator[Message]: ...

    async def disconnect(self) -> None: ...


class QueryFunction(Protocol):
    """``claude_agent_sdk.query``: one process for one prompt, its messages until it ends."""

    def __call__(
        self,
        *,
        prompt: str | AsyncIterable[dict[str, Any]],
        options: ClaudeAgentOptions | None = None,
        transport: Transport | None = None,
    ) -> AsyncIterator[Message]: ...


class CLITransport(Protocol):
    """A running CLI's stream-json pipe (the SDK's ``SubprocessCLITransport``)."""

    async def connect(self) -> None: ...

    async def write(self, data: str) -> None: ...

    def read_messages(self) -> AsyncIterator[dict[str, Any]]: ...

    async def close(self) -> None: ...

    def is_ready(self) -> bool: ...

    async def end_input(self) -> None: ...
