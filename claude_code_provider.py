"""LiteLLM custom provider: OpenAI chat requests served by Claude Code.

This class does wiring and I/O only. Conversion lives in
``litellm_claude_code.prompt``, stream translation in ``.stream``, errors in
``.errors``, session transcripts in ``.sessions``, query execution in ``.runner``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing
from typing import Any

import claude_agent_sdk as sdk
import httpx
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse, ModelResponseStream

from litellm_claude_code import errors, sessions, tools
from litellm_claude_code.environment import cli_environment, config_dir
from litellm_claude_code.options import QueryPlan, build_options
from litellm_claude_code.params import Controls, ParamError, cli_env, controls_from
from litellm_claude_code.prompt import Conversation, PromptError, convert
from litellm_claude_code.runner import QueryFunction, QueryTimeout, run_query
from litellm_claude_code.settings import DeploymentSettings, SettingsError, settings_from_litellm_params
from litellm_claude_code.stream import StreamTranslator
from litellm_claude_code.workspace import request_workspace

logger = logging.getLogger("litellm_claude_code")


def _timeout_seconds(timeout: float | httpx.Timeout | None, default: float) -> float:
    if isinstance(timeout, httpx.Timeout):
        timeout = timeout.read or timeout.connect
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return default


def _log_stderr(line: str) -> None:
    logger.debug("claude: %s", line)


class ClaudeCodeProvider(CustomLLM):
    """Serves ``claude-code/<model>`` deployments through the Claude Agent SDK."""

    def __init__(self, query: QueryFunction = sdk.query, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._query = query
        self._environ = environ

    # -- LiteLLM entry points -------------------------------------------------

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        chunks = [chunk async for chunk in self._chunks(model, messages, kwargs)]
        response = litellm.stream_chunk_builder(chunks, messages=messages)
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
        settings = self._settings(model, kwargs.get("litellm_params"))
        conversation = self._conversation(model, messages)
        controls = self._controls(model, kwargs.get("optional_params"))
        timeout = _timeout_seconds(kwargs.get("timeout"), settings.timeout)
        try:
            async with aclosing(self._run(model, settings, conversation, controls, timeout)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except QueryTimeout:
            raise errors.timeout_error(timeout, model) from None
        except sdk.ClaudeSDKError as error:
            raise errors.from_sdk_exception(error, model) from error

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
    def _conversation(model: str, messages: list) -> Conversation:
        try:
            return convert(messages)
        except PromptError as error:
            raise errors.bad_request(str(error), model) from error

    async def _run(
        self,
        model: str,
        settings: DeploymentSettings,
        conversation: Conversation,
        controls: Controls,
        timeout: float,
    ) -> AsyncGenerator[ModelResponseStream, None]:
        parent = os.environ if self._environ is None else self._environ
        env = {**cli_environment(settings, parent), **cli_env(controls), **_resume_env(conversation)}
        if self._environ is not None:  # an injected environment replaces the process's own
            env = {**self._environ, **env}
        account_dir = config_dir(env, parent)
        with request_workspace(account_dir, settings.work_root) as cwd:
            plan = QueryPlan(
                model=model,
                system_prompt=conversation.system or settings.default_system_prompt,
                cwd=cwd,
                env=env,
                resume=sessions.write_history(_transcript_turns(conversation), account_dir, cwd),
                effort=controls.effort,
                thinking=controls.thinking,
                output_schema=controls.output_schema,
                tools=controls.tools,
            )
            translator = StreamTranslator(
                model,
                stop=controls.stop,
                json_output=controls.output_schema is not None,
                tool_names={tools.internal_name(f.name): f.name for f in controls.tools.offered},
                max_tool_calls=None if controls.tools.parallel else 1,
            )
            options = build_options(plan, settings, stderr=_log_stderr)
            prompt = None if conversation.answers_tool_calls else conversation.prompt
            async with aclosing(run_query(self._query, prompt, options, timeout)) as messages:
                async for message in messages:
                    for chunk in translator.feed(message):
                        yield chunk
                    if translator.complete:
                        break  # closing run_query stops the CLI
            for chunk in translator.finish():
                yield chunk


def _transcript_turns(conversation: Conversation) -> list[dict[str, Any]]:
    # Tool results go into the transcript, after the assistant's tool calls:
    # sent as a new prompt, Claude Code would first mark the calls interrupted.
    turns = list(conversation.history)
    if conversation.answers_tool_calls:
        turns.append({"role": "user", "content": conversation.prompt})
    return tools.prefix_history(turns)


def _resume_env(conversation: Conversation) -> dict[str, str]:
    # A transcript that ends in tool results is an interrupted turn; this makes
    # Claude Code continue it without a new prompt (it adds a one-line
    # "continue" note to that user turn).
    return {"CLAUDE_CODE_RESUME_INTERRUPTED_TURN": "1"} if conversation.answers_tool_calls else {}


def _run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
