"""Everything decided for one chat request, before any process runs: plain data.

What the runtime makes of it (process keys, query plans) lives in the runtime
(``runtime.keys``, ``runtime.options``), its translator in ``translate.stream``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .environment import cli_environment, config_dir
from .settings import DeploymentSettings, deployment_id, settings_from_litellm_params
from .translate import search
from .translate.params import Controls, cli_env, controls_from
from .translate.prompt import TOOL_ERRORS_METADATA_KEY, Conversation, convert

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
    search_blocks_key: str | None = None  # /v1/messages: where its search blocks go (search.PUBLISHED_BLOCKS)

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
    calls = _metadata_key(litellm_params, search.WEB_SEARCH_CALLS_METADATA_KEY)
    blocks = _metadata_key(litellm_params, search.WEB_SEARCH_BLOCKS_METADATA_KEY)
    directory = config_dir(env, parent)
    return ChatRequest(model, settings, conversation, controls, timeout, env, directory, deployment, calls, blocks)


def _report_uncarried(asked: tuple[str, ...]) -> None:
    for name in sorted(set(asked) - _reported):
        _reported.add(name)
        logger.warning(search.UNCARRIED[name])


def _conversation(messages: list[Any], litellm_params: Any) -> Conversation:
    # /v1/messages' failed tool results, carried by proxy_hooks (LiteLLM's adapter drops is_error)
    metadata = (litellm_params or {}).get("metadata") if isinstance(litellm_params, dict) else None
    failed = (metadata or {}).get(TOOL_ERRORS_METADATA_KEY) if isinstance(metadata, dict) else None
    return convert(messages, failed if isinstance(failed, list) else ())


def _metadata_key(litellm_params: Any, name: str) -> str | None:
    # /v1/responses and /v1/messages with web search: set by proxy_hooks, which places the
    # web_search_call items, or the API's search blocks
    metadata = litellm_params.get("metadata") if isinstance(litellm_params, dict) else None
    key = metadata.get(name) if isinstance(metadata, dict) else None
    return key if isinstance(key, str) and key else None


def _timeout_seconds(timeout: object, default: float) -> float:
    if isinstance(timeout, httpx.Timeout):
        timeout = timeout.read or timeout.connect
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return default
