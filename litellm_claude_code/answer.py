"""One request's answer: the SDK messages of its Claude Code turn, translated into LiteLLM chunks."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Protocol

import claude_agent_sdk as sdk
from litellm.types.utils import ModelResponseStream

from .counters import Tokens
from .quota import Quotas
from .request import ChatRequest
from .translate.search import Kept
from .translate.stream import translator_for


class Turn(Protocol):
    """A turn lent by the runtime (``runtime.Lease``): its messages, and what its process holds after."""

    def messages(self) -> AsyncGenerator[sdk.Message, None]: ...

    def hold(self, reply: list[dict[str, Any]] | None) -> None: ...

    def searches(self) -> Kept | None: ...


async def answer(
    request: ChatRequest, turn: Turn, quotas: Quotas, tokens: Tokens | None = None
) -> AsyncGenerator[ModelResponseStream, None]:
    """The request's chunks from ``turn``; Claude Code's rate-limit reports go to ``quotas``,
    the answer's token counts to ``tokens``."""
    translator = translator_for(
        request.model, request.controls, request.search_calls_key, request.search_blocks_key, turn.searches
    )
    async with aclosing(turn.messages()) as messages:
        async for message in messages:
            if isinstance(message, sdk.RateLimitEvent):
                quotas.record(request.account, request.deployment, message.rate_limit_info, request.model)
            for chunk in translator.feed(message):
                yield chunk
            if translator.complete:
                break  # closing the turn ends it (its process is kept or closed by the runtime)
    # Only an answer that ended tells the turn what its process holds: a turn
    # closed before (the client went away, a failure) leaves nothing held, so
    # its process is closed.
    last, outcome = translator.finish()
    turn.hold(outcome.held)
    if tokens is not None and outcome.usage is not None:
        tokens.count(request.deployment, outcome.usage)
    for chunk in last:
        yield chunk
