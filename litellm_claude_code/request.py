"""Everything decided for one chat request, before any process runs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from .runtime.environment import cli_environment, config_dir
from .runtime.limits import Limits
from .runtime.options import QueryPlan
from .settings import DeploymentSettings, deployment_id, settings_from_litellm_params
from .translate import search, tools
from .translate.params import Controls, cli_env, controls_from
from .translate.prompt import TOOL_ERRORS_METADATA_KEY, Conversation, convert
from .translate.stream import StreamTranslator

logger = logging.getLogger("litellm_claude_code")

# What a client may ask for that Claude Code cannot carry, logged once per
# process (issue 13): the web search options its WebSearch tool cannot send.
_reported: set[str] = set()


@dataclass(frozen=True)
class ChatRequest:
    model: str
    settings: DeploymentSettings
    conversation: Conversation
    controls: Controls
    timeout: float
    account_env: Mapping[str, str]  # the deployment's process environment (account, auth, limits)
    config_dir: str
    deployment: str  # the router's deployment id: the unit of pooling and limits
    search_calls_key: str | None = None  # /v1/responses: where its web_search_call items go (search.PUBLISHED)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process started for this request: the account's plus the controls'."""
        return {**self.account_env, **cli_env(self.controls)}

    @property
    def account(self) -> Hashable:
        """Which Claude account the deployment runs on: deployments sharing it share its quota."""
        settings = self.settings
        return (self.config_dir, settings.auth, settings.oauth_token_env, settings.api_key_env, settings.base_url)

    @property
    def system_prompt(self) -> str:
        return self.conversation.system or self.settings.default_system_prompt

    @property
    def poolable(self) -> bool:
        """A warm process serves it the same as a fresh one would.

        Not JSON output: its ``--json-schema`` and turn limit are fixed when a
        process starts. Not web search: a process with WebSearch on is of this
        request alone, so one is never kept for a request without search.
        """
        controls = self.controls
        return self.settings.pool_size > 0 and controls.output_schema is None and controls.search is None

    @property
    def ready_key(self) -> Hashable:
        """What a ready session must share with this request to serve it."""
        controls = self.controls
        thinking = json.dumps(controls.thinking, sort_keys=True)
        return (
            self.settings,
            self.model,
            self.system_prompt,
            tuple(sorted(self.env.items())),
            controls.effort,
            thinking,
        )

    @property
    def limits(self) -> Limits:
        settings = self.settings
        return Limits(settings.max_concurrent, settings.max_queue, settings.queue_timeout)

    def transcript_turns(self) -> list[dict[str, Any]]:
        """The earlier turns, with tool calls under the names the model knows."""
        return tools.prefix_history(self.conversation.history)

    def spare_plan(self, cwd: str, system_prompt: str) -> QueryPlan:
        """A spare for this request's deployment: its model and account, nothing of the request."""
        return QueryPlan(model=self.model, system_prompt=system_prompt, cwd=cwd, env=dict(self.account_env))

    def plan(self, cwd: str, resume: str | None) -> QueryPlan:
        controls = self.controls
        return QueryPlan(
            model=self.model,
            system_prompt=self.system_prompt,
            cwd=cwd,
            env=dict(self.env),
            resume=resume,
            effort=controls.effort,
            thinking=controls.thinking,
            output_schema=controls.output_schema,
            tools=controls.tools,
            search=controls.search,
        )

    def translator(self) -> StreamTranslator:
        controls = self.controls
        return StreamTranslator(
            self.model,
            stop=controls.stop,
            json_output=controls.output_schema is not None,
            tool_names={tools.internal_name(f.name): f.name for f in controls.tools.offered},
            max_tool_calls=None if controls.tools.parallel else 1,
            search=controls.search is not None,
            publish=partial(search.PUBLISHED.put, self.search_calls_key) if self.search_calls_key else None,
        )

    def held_turns(self, reply: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The conversation a session holds after answering this request with the assistant turn ``reply``."""
        return [
            *self.conversation.history,
            {"role": "user", "content": self.conversation.prompt},
            {"role": "assistant", "content": reply},
        ]


def from_litellm(
    model: str, messages: list[Any], kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ChatRequest:
    """One request from what LiteLLM hands a custom provider; ``environ`` replaces the process's own."""
    litellm_params = kwargs.get("litellm_params")
    settings = settings_from_litellm_params(litellm_params)
    conversation = _conversation(messages, litellm_params)
    controls = controls_from(kwargs.get("optional_params"))
    _report_uncarried(controls.search.uncarried if controls.search else ())
    parent = os.environ if environ is None else environ
    env = cli_environment(settings, parent)
    if environ is not None:
        env = {**environ, **env}
    timeout = _timeout_seconds(kwargs.get("timeout"), settings.timeout)
    deployment = deployment_id(litellm_params, model)
    calls = _search_calls_key(litellm_params)
    directory = config_dir(env, parent)
    return ChatRequest(model, settings, conversation, controls, timeout, env, directory, deployment, calls)


def _report_uncarried(asked: tuple[str, ...]) -> None:
    for name in sorted(set(asked) - _reported):
        _reported.add(name)
        logger.warning(search.UNCARRIED[name])


def _conversation(messages: list[Any], litellm_params: Any) -> Conversation:
    # /v1/messages' failed tool results, carried by proxy_hooks (LiteLLM's adapter drops is_error)
    metadata = (litellm_params or {}).get("metadata") if isinstance(litellm_params, dict) else None
    failed = (metadata or {}).get(TOOL_ERRORS_METADATA_KEY) if isinstance(metadata, dict) else None
    return convert(messages, failed if isinstance(failed, list) else ())


def _search_calls_key(litellm_params: Any) -> str | None:
    # /v1/responses with web search: set by proxy_hooks, which places the web_search_call items
    metadata = litellm_params.get("metadata") if isinstance(litellm_params, dict) else None
    key = metadata.get(search.WEB_SEARCH_CALLS_METADATA_KEY) if isinstance(metadata, dict) else None
    return key if isinstance(key, str) and key else None


def _timeout_seconds(timeout: object, default: float) -> float:
    if isinstance(timeout, httpx.Timeout):
        timeout = timeout.read or timeout.connect
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return default
