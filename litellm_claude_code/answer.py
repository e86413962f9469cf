"""One request's answer: the SDK messages of its Claude Code turn, translated into LiteLLM chunks."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import claude_agent_sdk as sdk
from litellm.types.utils import ModelResponseStream

from .proxy.metrics import Tokens
from .proxy.quota import Quotas
from .request import ChatRequest
from .translate.stream import Outcome

# A turn's messages, given how it asks for the assistant turn its process may
# keep (runtime.Runtime.run); a turn whose process is not kept ignores it.
Turn = Callable[[Callable[[], list[dict[str, Any]] | None]], AsyncGenerator[sdk.Message, None]]


async def answer(
    request: ChatRequest, turn: Turn, quotas: Quotas, tokens: Tokens | None = None
) -> AsyncGenerator[ModelResponseStream, None]:
    """The request's chunks from ``turn``; Claude Code's rate-limit reports go to ``quotas``,
    the answer's token counts to ``tokens``."""
    translator = request.translator()
    # Set once the answer is over: the runtime asks for its reply when the
    # turn closes, and a turn closed before (the client went away, a
    # failure) leaves no reply, so its process is disposed of.
    outcome: Outcome | None = None
    async with aclosing(turn(lambda: outcome.held if outcome else None)) as messages:
        async for message in messages:
            if isinstance(message, sdk.RateLimitEvent):
                quotas.record(request.account, request.deployment, message.rate_limit_info, request.model)
            for chunk in translator.feed(message):
                yield chunk
            if translator.complete:
                break  # closing the turn stops the CLI (or keeps its process)
        last, outcome = translator.finish()
    if tokens is not None and outcome.usage is not None:
        tokens.count(request.deployment, outcome.usage)
    for chunk in last:
        yield chunk
