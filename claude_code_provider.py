"""LiteLLM custom provider: OpenAI chat requests served by Claude Code.

This class does wiring and I/O only. Conversion lives in
``litellm_claude_code.prompt``, stream translation in ``.stream``, errors in
``.errors``, session transcripts in ``.sessions``, query execution in ``.runner``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import shutil
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import httpx
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse, ModelResponseStream

from litellm_claude_code import errors, health, pricing, sessions
from litellm_claude_code.environment import cli_environment, config_dir
from litellm_claude_code.limits import Busy, Limiter
from litellm_claude_code.options import build_options
from litellm_claude_code.params import Controls, ParamError, cli_env, controls_from
from litellm_claude_code.pool import Connect, Session, SessionPool, close_session, conversation_key
from litellm_claude_code.processes import stop_processes
from litellm_claude_code.prompt import TOOL_ERRORS_METADATA_KEY, Conversation, PromptError, convert
from litellm_claude_code.request import ChatRequest
from litellm_claude_code.runner import PrimeError, QueryFunction, QueryTimeout, prime, run_query, run_turn
from litellm_claude_code.settings import (
    DeploymentSettings,
    SettingsError,
    deployment_id,
    settings_from_litellm_params,
)
from litellm_claude_code.stream import StreamTranslator
from litellm_claude_code.workspace import new_workdir, request_workspace

logger = logging.getLogger("litellm_claude_code")

# Where the SDK's wheel puts its Claude Code CLI (the SDK runs it by default).
BUNDLED_CLI = Path(sdk.__file__).parent / "_bundled" / "claude"


def _timeout_seconds(timeout: float | httpx.Timeout | None, default: float) -> float:
    if isinstance(timeout, httpx.Timeout):
        timeout = timeout.read or timeout.connect
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return default


def _log_stderr(line: str) -> None:
    logger.debug("claude: %s", line)


async def connect_client(options: Any) -> sdk.ClaudeSDKClient:
    """A Claude Code process started and initialised, waiting for its first turn."""
    client = sdk.ClaudeSDKClient(options)
    await client.connect()
    return client


PRIME_TIMEOUT_SECONDS = 10.0
_priming = {"on": True}  # off for good after a CLI that sent a blank prompt upstream


async def connect_ready(options: Any) -> sdk.ClaudeSDKClient:
    """A ready session: connected, then primed with a blank prompt (runner.prime)."""
    client = await connect_client(options)
    if not _priming["on"]:
        return client
    try:
        await asyncio.wait_for(prime(client), timeout=PRIME_TIMEOUT_SECONDS)
    except BaseException as error:
        if isinstance(error, PrimeError):
            _priming["on"] = False
            logger.warning("Claude Code sent a blank prompt to the model: ready sessions are no longer primed")
        await stop_processes(str(options.cwd))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=5)
        raise
    return client


class ClaudeCodeProvider(CustomLLM):
    """Serves ``claude-code/<model>`` deployments through the Claude Agent SDK."""

    def __init__(
        self,
        query: QueryFunction = sdk.query,
        environ: Mapping[str, str] | None = None,
        connect: Connect | None = None,
        pooling: bool = False,
    ) -> None:
        """``pooling`` keeps warm sessions between requests: for a long-lived event
        loop such as the proxy's (custom_handler.py turns it on); callers that run
        each request in a short-lived loop (asyncio.run) leave it off."""
        super().__init__()
        self._pooling = pooling
        self._query = query
        self._environ = environ
        self._connect = connect or connect_client
        self._connect_ready = connect or connect_ready  # ready sessions are primed in the background
        self._pool_of_loop: SessionPool | None = None
        self._limiter = Limiter()

    @property
    def _pool(self) -> SessionPool:
        pool = self._pool_of_loop
        if pool is None or pool.loop is not asyncio.get_running_loop():
            if pool is not None:
                pool.abandon()
                atexit.unregister(pool.abandon)
            pool = self._pool_of_loop = SessionPool(self._connect_ready)
        return pool

    # -- LiteLLM entry points -------------------------------------------------

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        chunks = [chunk async for chunk in self._chunks(model, messages, kwargs)]
        # With LiteLLM's logging object the cost is priced as for a streamed answer
        # (pricing.price_as, or the deployment's own pricing); without it the
        # builder prices the response on its own and bypasses both.
        response = litellm.stream_chunk_builder(chunks, messages=messages, logging_obj=kwargs.get("logging_obj"))
        if not isinstance(response, ModelResponse):
            raise errors.to_exception(errors.Failure(status=502, message="Claude Code gave no answer"), model)
        return response

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[ModelResponseStream]:
        # Generators nested in generators are closed explicitly (aclosing): when
        # the client goes away LiteLLM closes this one, and only an explicit
        # close reaches run_query in time to stop the CLI process.
        async with aclosing(self._chunks(model, messages, kwargs)) as chunks:
            async for chunk in chunks:
                yield chunk

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return _run_sync(lambda: self.acompletion(model, messages, **kwargs))

    def streaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Iterator[ModelResponseStream]:  # type: ignore[override]
        async def collect() -> list[ModelResponseStream]:
            return [chunk async for chunk in self.astreaming(model, messages, **kwargs)]

        yield from _run_sync(collect)

    # -- one request ----------------------------------------------------------

    async def _chunks(
        self, model: str, messages: list, kwargs: dict[str, Any]
    ) -> AsyncGenerator[ModelResponseStream, None]:
        request = self._request(model, messages, kwargs)
        if health.is_health_probe(kwargs.get("litellm_params")):
            for chunk in self._probe(request):
                yield chunk
            return
        try:
            slot = self._limiter.gate(request.deployment, request.limits).slot()
            async with slot, aclosing(self._run(request)) as chunks:
                async for chunk in chunks:
                    if not chunk.choices:  # the usage chunk: the answering model is known by now
                        pricing.price_as(chunk.model, kwargs.get("litellm_params"), kwargs.get("logging_obj"))
                    yield chunk
        except Busy as busy:
            failure = errors.Failure(status=429, message=str(busy), retry_after=busy.retry_after)
            raise errors.to_exception(failure, model) from None
        except QueryTimeout:
            raise errors.timeout_error(request.timeout, model) from None
        except sdk.ClaudeSDKError as error:
            raise errors.from_sdk_exception(error, model) from error

    def _request(self, model: str, messages: list, kwargs: dict[str, Any]) -> ChatRequest:
        settings = self._settings(model, kwargs.get("litellm_params"))
        conversation = self._conversation(model, messages, kwargs.get("litellm_params"))
        controls = self._controls(model, kwargs.get("optional_params"))
        parent = os.environ if self._environ is None else self._environ
        env = {**cli_environment(settings, parent), **cli_env(controls)}
        if self._environ is not None:  # an injected environment replaces the process's own
            env = {**self._environ, **env}
        timeout = _timeout_seconds(kwargs.get("timeout"), settings.timeout)
        deployment = deployment_id(kwargs.get("litellm_params"), model)
        return ChatRequest(model, settings, conversation, controls, timeout, env, config_dir(env, parent), deployment)

    @staticmethod
    def _probe(request: ChatRequest) -> list[ModelResponseStream]:
        """LiteLLM's health check: answered locally, no Claude Code process started."""
        settings = request.settings
        problem = health.binary_problem(settings.cli_path, BUNDLED_CLI)
        if problem:
            raise errors.to_exception(errors.Failure(status=503, message=problem), request.model)
        problem = health.login_problem(settings.auth, request.env, request.config_dir)
        if problem:
            raise errors.to_exception(errors.Failure(status=401, message=problem), request.model)
        return health.probe_chunks(request.model)

    def _settings(self, model: str, litellm_params: Any) -> DeploymentSettings:
        try:
            return settings_from_litellm_params(litellm_params)
        except SettingsError as error:
            raise errors.to_exception(errors.Failure(status=500, message=str(error)), model) from error

    @staticmethod
    def _controls(model: str, optional_params: Any) -> Controls:
        try:
            return controls_from(optional_params)
        except ParamError as error:
            raise errors.bad_request(str(error), model) from error

    @staticmethod
    def _conversation(model: str, messages: list, litellm_params: Any) -> Conversation:
        metadata = (litellm_params or {}).get("metadata") if isinstance(litellm_params, dict) else None
        failed = (metadata or {}).get(TOOL_ERRORS_METADATA_KEY) if isinstance(metadata, dict) else None
        try:
            return convert(messages, failed if isinstance(failed, list) else ())
        except PromptError as error:
            raise errors.bad_request(str(error), model) from error

    async def _run(self, request: ChatRequest) -> AsyncGenerator[ModelResponseStream, None]:
        translator = request.translator()
        pooled = self._pooling and request.poolable and _POOLING.get()
        turn = self._pooled_turn if pooled else self._one_shot_turn
        if request.conversation.answers_tool_calls:
            turn = self._seeded_turn
        async with aclosing(turn(request, translator)) as messages:
            async for message in messages:
                for chunk in translator.feed(message):
                    yield chunk
                if translator.complete:
                    break  # closing the turn stops the CLI (or keeps its session)
        for chunk in translator.finish():
            yield chunk

    async def _one_shot_turn(self, request: ChatRequest, translator: StreamTranslator) -> AsyncGenerator[Any, None]:
        """A fresh process for this request only, in a directory removed afterwards."""
        settings = request.settings
        with request_workspace(request.config_dir, settings.work_root) as cwd:
            resume = sessions.write_history(request.transcript_turns(), request.config_dir, cwd)
            options = build_options(request.plan(cwd, resume), settings, stderr=_log_stderr)
            query = run_query(self._query, request.conversation.prompt, options, request.timeout)
            async with aclosing(query) as messages:
                async for message in messages:
                    yield message

    async def _seeded_turn(self, request: ChatRequest, translator: StreamTranslator) -> AsyncGenerator[Any, None]:
        """Tool results: the earlier turns fed to a fresh process, the results sent as its user turn.

        A resumed transcript ending in the assistant's tool calls would have the
        CLI mark them interrupted (or, resuming the interrupted turn, offer no
        tools and add a note): see runner.seed and issue 10.
        """
        session = await self._new_session(request, transcript=False)
        history = request.transcript_turns()
        try:
            turn = run_turn(session.client, request.conversation.prompt, session.cwd, request.timeout, history)
            async with aclosing(turn) as messages:
                async for message in messages:
                    yield message
        finally:
            await asyncio.shield(close_session(session))

    async def _pooled_turn(self, request: ChatRequest, translator: StreamTranslator) -> AsyncGenerator[Any, None]:
        """A warm session when one holds this conversation (or none yet), else a new one."""
        history = request.conversation.history
        key = request.ready_key
        session = self._pool.take_live(conversation_key(key, history)) if history else self._pool.take_ready(key)
        if session is None:
            session = await self._new_session(request)
        try:
            async with aclosing(
                run_turn(session.client, request.conversation.prompt, session.cwd, request.timeout)
            ) as turn:
                async for message in turn:
                    yield message
        finally:
            # Also reached when the caller stops reading right after the result.
            if not self._keep(request, session, translator.plain_reply):
                # Shielded: a client that went away cancels this task, and the
                # session's process and directory must go all the same.
                await asyncio.shield(close_session(session))

    def _keep(self, request: ChatRequest, session: Session, reply: str | None) -> bool:
        sessions.remove_project(session.config_dir, session.cwd)  # the transcript was read at start
        capacity = request.settings.pool_size
        self._pool.warm(session, lambda: self._session_options(request), capacity)
        if reply is None:
            return False
        self._pool.keep_live(conversation_key(request.ready_key, request.held_turns(reply)), session, capacity)
        return True

    def _session_options(self, request: ChatRequest, resume: str | None = None, cwd: str | None = None) -> Any:
        cwd = cwd or new_workdir(request.settings.work_root)
        return build_options(request.plan(cwd, resume), request.settings, stderr=_log_stderr)

    async def _new_session(self, request: ChatRequest, transcript: bool = True) -> Session:
        cwd = new_workdir(request.settings.work_root)
        try:
            turns = request.transcript_turns() if transcript else []
            resume = sessions.write_history(turns, request.config_dir, cwd)
            options = self._session_options(request, resume, cwd)
            client = await asyncio.wait_for(self._connect(options), timeout=request.timeout)
        except BaseException:
            sessions.remove_project(request.config_dir, cwd)
            shutil.rmtree(cwd, ignore_errors=True)
            raise
        settings = request.settings
        return Session(client, cwd, request.config_dir, request.deployment, request.ready_key, settings.idle_timeout)


# Warm sessions live in the event loop that started them; the sync entry
# points run each call in a loop of its own (asyncio.run), so they run cold.
_POOLING: contextvars.ContextVar[bool] = contextvars.ContextVar("claude_code_pooling", default=True)


def _run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    token = _POOLING.set(False)
    try:
        return _run_in_new_loop(make)
    finally:
        _POOLING.reset(token)


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
