"""LiteLLM custom provider: OpenAI chat requests served by Claude Code.

This class does LiteLLM wiring only. Conversion lives in
``litellm_claude_code.translate``, every Claude Code process in ``.runtime``, the
turn's translation in ``.answer``, the sync entry points' event loops in ``.sync``,
and the one error boundary (every internal failure -> a LiteLLM exception) in
``.boundary``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Mapping
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse, ModelResponseStream

from litellm_claude_code import boundary, errors, sync
from litellm_claude_code.answer import answer
from litellm_claude_code.counters import Outcomes, Tokens
from litellm_claude_code.proxy import health
from litellm_claude_code.proxy.metrics import ProviderCollector
from litellm_claude_code.quota import Quotas
from litellm_claude_code.request import ChatRequest, from_litellm
from litellm_claude_code.runtime.limits import Limiter, Limits
from litellm_claude_code.runtime.per_loop import PerLoop
from litellm_claude_code.runtime.runtime import Runtime
from litellm_claude_code.translate import pricing

# Where the SDK's wheel puts its Claude Code CLI (the SDK runs it by default).
BUNDLED_CLI = Path(sdk.__file__).parent / "_bundled" / "claude"


class ClaudeCodeProvider(CustomLLM):
    """Serves ``claude-code/<model>`` deployments through the Claude Agent SDK."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        runtime: Callable[[], Runtime] = Runtime,
        pooling: bool = False,
        once: Callable[[], AbstractAsyncContextManager[Runtime]] = Runtime.once,
    ) -> None:
        """``pooling`` keeps Claude Code processes between requests (runtime.Runtime):
        for a long-lived event loop such as the proxy's (custom_handler.py turns it
        on); callers that run each request in a short-lived loop (asyncio.run)
        leave it off, and each request gets a runtime of its own (``once``).
        ``runtime`` makes the runtime of a long-lived event loop."""
        super().__init__()
        self._pooling = pooling
        self._once = once
        self._environ = environ
        self._runtimes = PerLoop(runtime)
        self._limiter = Limiter()
        self.quotas = Quotas()  # per deployment, from Claude Code's rate_limit_event
        self.outcomes = Outcomes()
        self.tokens = Tokens()  # per deployment: input, cache reads and writes, output (issue 19)

    def collector(self) -> ProviderCollector:
        """This provider's Prometheus metrics (custom_handler registers them)."""
        runtimes = self._runtimes
        return ProviderCollector(
            self.quotas, self.outcomes, runtimes.counts, runtimes.stats, self._limiter.queued, self.tokens
        )

    # -- LiteLLM entry points: each the edge where failures become LiteLLM exceptions

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        with self.outcomes.counted(), boundary.mapped(model):
            request = from_litellm(model, messages, kwargs, self._environ)
            chunks = [chunk async for chunk in self._answer(request, kwargs)]
            # With LiteLLM's logging object the cost is priced as for a streamed answer
            # (pricing.price_as, or the deployment's own pricing); without it the
            # builder prices the response on its own and bypasses both.
            response = litellm.stream_chunk_builder(chunks, messages=messages, logging_obj=kwargs.get("logging_obj"))
            if not isinstance(response, ModelResponse):
                raise errors.Failed(errors.Failure(status=502, message="Claude Code gave no answer"))
            if health.is_health_probe(kwargs.get("litellm_params")):
                quotas = self.quotas
                health.show_room(response, quotas.latest(request.account, model), quotas.of_model(request.model))
            return response

    async def astreaming(  # type: ignore[override]  # CustomLLM's takes LiteLLM's long positional list; ours, kwargs
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ModelResponseStream]:
        # Generators nested in generators are closed explicitly (aclosing): when
        # the client goes away LiteLLM closes this one, and only an explicit
        # close reaches run_query in time to stop the CLI process.
        with self.outcomes.counted(), boundary.mapped(model):
            request = from_litellm(model, messages, kwargs, self._environ)
            async with aclosing(self._answer(request, kwargs)) as chunks:
                async for chunk in chunks:
                    yield chunk

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        response: ModelResponse = sync.run_sync(lambda: self.acompletion(model, messages, **kwargs))
        return response

    def streaming(  # type: ignore[override]  # CustomLLM's takes LiteLLM's long positional list; ours, kwargs
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> Generator[ModelResponseStream, None, None]:
        """Each chunk as it arrives; closing the iterator early stops the turn and its process."""
        return sync.stream_sync(lambda: self.astreaming(model, messages, **kwargs))

    # -- one request ----------------------------------------------------------

    async def _answer(self, request: ChatRequest, kwargs: dict[str, Any]) -> AsyncGenerator[ModelResponseStream, None]:
        # /health names the window too
        self.quotas.refuse_exhausted(request.account, request.deployment, request.settings.extra_usage == "allow")
        litellm_params = kwargs.get("litellm_params")
        if health.is_health_probe(litellm_params):
            for chunk in health.probe(request, BUNDLED_CLI):
                yield chunk
            return
        async with (
            self._limiter.gate(request.deployment, Limits.of(request.settings)).slot(),
            self._runtime() as runtime,
            runtime.turn(request) as turn,
            aclosing(answer(request, turn, self.quotas, self.tokens)) as chunks,
        ):
            async for chunk in chunks:
                if not chunk.choices:  # the usage chunk: the answering model is known by now
                    pricing.price_as(chunk.model, litellm_params, kwargs.get("logging_obj"))
                    usage = getattr(chunk, "usage", None)
                    pricing.price_searches(chunk.model, usage, litellm_params, kwargs.get("logging_obj"))
                yield chunk

    @asynccontextmanager
    async def _runtime(self) -> AsyncIterator[Runtime]:
        """The event loop's runtime when it is long-lived (the proxy's); else one for this request."""
        if self._pooling and sync.pooling_allowed():
            yield self._runtimes.get()
        else:
            async with self._once() as runtime:
                yield runtime
