"""LiteLLM custom provider: OpenAI chat requests served by Claude Code.

This class does LiteLLM wiring only. Conversion lives in
``litellm_claude_code.translate``, every Claude Code process in ``.runtime``, and the
one error boundary (every internal failure -> a LiteLLM exception) in ``.boundary``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse, ModelResponseStream

from litellm_claude_code import boundary, errors
from litellm_claude_code.proxy import health
from litellm_claude_code.proxy.metrics import Outcomes, ProviderCollector
from litellm_claude_code.proxy.quota import Quotas
from litellm_claude_code.request import ChatRequest
from litellm_claude_code.request import from_litellm as request_from_litellm
from litellm_claude_code.runtime.limits import Limiter
from litellm_claude_code.runtime.per_loop import PerLoop
from litellm_claude_code.runtime.runner import QueryFunction, QueryTimeout
from litellm_claude_code.runtime.runtime import Runtime, one_shot, seeded_once
from litellm_claude_code.translate import pricing
from litellm_claude_code.translate.stream import Outcome

logger = logging.getLogger("litellm_claude_code")

# Where the SDK's wheel puts its Claude Code CLI (the SDK runs it by default).
BUNDLED_CLI = Path(sdk.__file__).parent / "_bundled" / "claude"


class ClaudeCodeProvider(CustomLLM):
    """Serves ``claude-code/<model>`` deployments through the Claude Agent SDK."""

    def __init__(
        self,
        query: QueryFunction = sdk.query,
        environ: Mapping[str, str] | None = None,
        runtime: Callable[[], Runtime] = Runtime,
        pooling: bool = False,
    ) -> None:
        """``pooling`` keeps Claude Code processes between requests (runtime.Runtime):
        for a long-lived event loop such as the proxy's (custom_handler.py turns it
        on); callers that run each request in a short-lived loop (asyncio.run)
        leave it off. ``runtime`` makes the runtime of an event loop."""
        super().__init__()
        self._pooling = pooling
        self._query = query
        self._environ = environ
        self._runtimes = PerLoop(runtime)
        self._limiter = Limiter()
        self.quotas = Quotas()  # per deployment, from Claude Code's rate_limit_event
        self.outcomes = Outcomes()
        self._reported: set[str] = set()  # parameters already logged as not carried

    def collector(self) -> ProviderCollector:
        """This provider's Prometheus metrics (custom_handler registers them)."""
        runtimes = self._runtimes
        return ProviderCollector(self.quotas, self.outcomes, runtimes.counts, runtimes.stats, self._limiter.queued)

    # -- LiteLLM entry points -------------------------------------------------

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        with boundary.mapped(model):
            chunks = [chunk async for chunk in self._chunks(model, messages, kwargs)]
            # With LiteLLM's logging object the cost is priced as for a streamed answer
            # (pricing.price_as, or the deployment's own pricing); without it the
            # builder prices the response on its own and bypasses both.
            response = litellm.stream_chunk_builder(chunks, messages=messages, logging_obj=kwargs.get("logging_obj"))
            if not isinstance(response, ModelResponse):
                raise errors.Failed(errors.Failure(status=502, message="Claude Code gave no answer"))
            if health.is_health_probe(kwargs.get("litellm_params")):
                probe = self._request(model, [{"role": "user", "content": "probe"}], kwargs)
                health.show_room(response, self.quotas.latest(probe.account, model))
            return response

    async def astreaming(  # type: ignore[override]  # CustomLLM's takes LiteLLM's long positional list; ours, kwargs
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ModelResponseStream]:
        # Generators nested in generators are closed explicitly (aclosing): when
        # the client goes away LiteLLM closes this one, and only an explicit
        # close reaches run_query in time to stop the CLI process.
        async with aclosing(self._chunks(model, messages, kwargs)) as chunks:
            async for chunk in chunks:
                yield chunk

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        response: ModelResponse = _run_sync(lambda: self.acompletion(model, messages, **kwargs))
        return response

    def streaming(  # type: ignore[override]  # CustomLLM's takes LiteLLM's long positional list; ours, kwargs
        self, model: str, messages: list[Any], *args: Any, **kwargs: Any
    ) -> Generator[ModelResponseStream, None, None]:
        """Each chunk as it arrives; closing the iterator early stops the turn and its process."""
        return _stream_sync(lambda: self.astreaming(model, messages, **kwargs))

    # -- one request ----------------------------------------------------------

    async def _chunks(
        self, model: str, messages: list[Any], kwargs: dict[str, Any]
    ) -> AsyncGenerator[ModelResponseStream, None]:
        """One request's chunks, its outcome counted by status (499: the client went away).

        The provider's error boundary: whatever fails inside leaves as a LiteLLM exception.
        """
        status = 499
        try:
            with boundary.mapped(model):
                async with aclosing(self._answer(model, messages, kwargs)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            status = 200
        except Exception as error:
            status = int(getattr(error, "status_code", None) or 500)
            raise
        finally:
            self.outcomes.count(status)

    async def _answer(
        self, model: str, messages: list[Any], kwargs: dict[str, Any]
    ) -> AsyncGenerator[ModelResponseStream, None]:
        request = self._request(model, messages, kwargs)
        self.quotas.refuse_exhausted(request.account, request.deployment)  # /health names the window too
        if health.is_health_probe(kwargs.get("litellm_params")):
            for chunk in health.probe(request, BUNDLED_CLI):
                yield chunk
            return
        slot = self._limiter.gate(request.deployment, request.limits).slot()
        try:
            async with slot, aclosing(self._run(request)) as chunks:
                async for chunk in chunks:
                    if not chunk.choices:  # the usage chunk: the answering model is known by now
                        pricing.price_as(chunk.model, kwargs.get("litellm_params"), kwargs.get("logging_obj"))
                    yield chunk
        except QueryTimeout as passed:
            if passed.args:
                raise
            raise QueryTimeout(request.timeout) from None  # the seconds the boundary reports

    def _request(self, model: str, messages: list[Any], kwargs: dict[str, Any]) -> ChatRequest:
        self._report_uncarried(kwargs.get("optional_params"))
        return request_from_litellm(model, messages, kwargs, self._environ)

    def _report_uncarried(self, optional_params: Any) -> None:
        """Log once what a client asked for that Claude Code cannot carry (issue 13).

        ``web_search_options`` (a chat parameter, and what LiteLLM's /v1/responses
        adapter makes of a ``web_search`` tool): Claude Code's own web tools stay
        off, so the model answers without searching.
        """
        asked = isinstance(optional_params, dict) and "web_search_options" in optional_params
        if asked and "web_search_options" not in self._reported:
            self._reported.add("web_search_options")
            logger.warning("web search (web_search_options or a web_search tool) is not available: ignored")

    async def _run(self, request: ChatRequest) -> AsyncGenerator[ModelResponseStream, None]:
        translator = request.translator()
        # Set once the answer is over: the runtime asks for its reply when the
        # turn closes, and a turn closed before (the client went away, a
        # failure) leaves no reply, so its process is disposed of.
        outcome: Outcome | None = None
        if self._pooling and request.poolable and _POOLING.get():
            turn = self._runtimes.get().run(request, lambda: outcome.reply if outcome else None)
        elif request.conversation.answers_tool_calls:
            turn = seeded_once(request)  # tool results are fed as history, never resumed (issue 10)
        else:
            turn = one_shot(self._query, request)
        async with aclosing(turn) as messages:
            async for message in messages:
                if isinstance(message, sdk.RateLimitEvent):
                    self.quotas.record(request.account, request.deployment, message.rate_limit_info, request.model)
                for chunk in translator.feed(message):
                    yield chunk
                if translator.complete:
                    break  # closing the turn stops the CLI (or keeps its process)
            last, outcome = translator.finish()
        for chunk in last:
            yield chunk


# Kept processes live in the event loop that started them; the sync entry
# points run each call in a loop of its own (asyncio.run), so they run cold.
_POOLING: contextvars.ContextVar[bool] = contextvars.ContextVar("claude_code_pooling", default=True)


def _run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    token = _POOLING.set(False)
    try:
        return _run_in_new_loop(make)
    finally:
        _POOLING.reset(token)


class _Pump:
    """An async iterator driven from another thread: each item on demand, in a loop of its own.

    The iterator runs in a thread's own event loop (``asyncio.run``), one item
    per request from the sync side, so it sits at a ``yield`` whenever the
    caller holds an item: closing then closes it there (``aclose``), as LiteLLM
    closes ``astreaming`` when a client goes away. Closing while an item is
    being waited for cancels that wait.
    """

    def __init__(self, make: Callable[[], AsyncIterator[Any]], context: contextvars.Context) -> None:
        self._make = make
        self._results: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wants: asyncio.Queue[bool] | None = None
        self._step: asyncio.Future[Any] | None = None
        self._thread = threading.Thread(target=context.run, args=(asyncio.run, self._serve()), daemon=True)
        self._thread.name = "claude-code-sync-stream"

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        wants = self._wants = asyncio.Queue()
        self._ready.set()
        try:
            iterator = self._make()
            async with aclosing(iterator):  # type: ignore[type-var]  # astreaming is an async generator, typed as the AsyncIterator LiteLLM expects
                while await wants.get():
                    self._step = asyncio.ensure_future(iterator.__anext__())
                    try:
                        item = await self._step
                    except StopAsyncIteration:
                        self._results.put(("done", None))
                        return
                    self._results.put(("item", item))
        except BaseException as error:  # the caller's to handle, on its own thread (or a cancelled wait)
            self._results.put(("error", error))
        else:
            self._results.put(("done", None))

    def next(self) -> tuple[str, Any]:
        """The next item, the end, or the error the iterator raised."""
        loop, wants = self._loop, self._wants
        assert loop is not None
        assert wants is not None
        loop.call_soon_threadsafe(wants.put_nowait, True)
        return self._results.get()

    def close(self) -> None:
        """Stop the iterator (closed at its ``yield``, or its pending step cancelled) and end the thread."""

        def stop() -> None:
            assert self._wants is not None
            self._wants.put_nowait(False)
            if self._step is not None and not self._step.done():
                self._step.cancel()

        if self._thread.is_alive() and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already: nothing is left to stop
                self._loop.call_soon_threadsafe(stop)
        self._thread.join()


def _stream_sync(make: Callable[[], AsyncIterator[Any]]) -> Generator[Any, None, None]:
    """The items of an async iterator, yielded to sync code as they arrive (see ``_Pump``)."""
    context = contextvars.copy_context()
    context.run(_POOLING.set, False)  # kept processes belong to the proxy's loop, not this thread's
    pump = _Pump(make, context)
    pump.start()
    try:
        while True:
            kind, value = pump.next()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        pump.close()


def _run_in_new_loop(make: Callable[[], Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(make())
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, lambda: asyncio.run(make())).result()
