"""ClaudeAgentOptions for a pure-chat query that exposes nothing of the host, planned from a request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import claude_agent_sdk as sdk

from ..request import ChatRequest
from ..settings import DEFAULT_MODEL_ALIAS, DeploymentSettings
from ..translate import search, tools
from ..translate.params import cli_env

logger = logging.getLogger(__name__)

# CLI flags without a ClaudeAgentOptions field: the transcript of a request is
# ours to write and delete, the CLI must not keep one of its own.
EXTRA_ARGS: dict[str, str | None] = {"no-session-persistence": None}
STRUCTURED_OUTPUT_TURNS = 4
# A searched answer: up to five turns that search (each WebSearch call may run
# several searches upstream), then the answer; a model that searches on past
# that ends with Claude Code's max-turns error.
SEARCH_TURNS = 6


@dataclass(frozen=True)
class QueryPlan:
    """Everything one query needs that is decided per request."""

    model: str  # the deployment's model alias or full id
    system_prompt: str
    cwd: str
    env: dict[str, str]
    resume: str | None = None
    effort: str | None = None
    thinking: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    tools: tools.ToolSpec = field(default_factory=tools.ToolSpec)
    search: search.SearchSpec | None = None  # WebSearch on for this query


def history_turns(request: ChatRequest) -> list[dict[str, Any]]:
    """The request's earlier turns, with tool calls under the names the model knows them by."""
    return tools.cli_history(request.conversation.history)


def plan(request: ChatRequest, cwd: str, resume: str | None = None, api: str | None = None) -> QueryPlan:
    """Everything of the request a process started for it is given (``resume``: a transcript's session;
    ``api``: the base URL of its API when not the deployment's, the search forwarder's route)."""
    controls = request.controls
    env = dict(request.env)
    if api is not None:
        env["ANTHROPIC_BASE_URL"] = api
    return QueryPlan(
        model=request.model,
        system_prompt=request.system_prompt,
        cwd=cwd,
        env=env,
        resume=resume,
        effort=controls.effort,
        thinking=controls.thinking,
        output_schema=controls.output_schema,
        tools=controls.tools,
        search=controls.search,
    )


def spare_plan(request: ChatRequest, cwd: str, system_prompt: str) -> QueryPlan:
    """A spare for this request's deployment: its model and account, nothing of the request."""
    return QueryPlan(model=request.model, system_prompt=system_prompt, cwd=cwd, env=dict(request.account_env))


def request_options(
    request: ChatRequest, cwd: str, resume: str | None = None, api: str | None = None
) -> sdk.ClaudeAgentOptions:
    return build_options(plan(request, cwd, resume, api), request.settings, stderr=log_stderr)


def flag_settings(request: ChatRequest) -> dict[str, Any] | None:
    """``apply_flag_settings`` for the request's controls: what ``--effort`` and their env set at spawn."""
    settings: dict[str, Any] = {}
    env = cli_env(request.controls)
    if env:
        settings["env"] = env
    if request.controls.effort:
        settings["effortLevel"] = request.controls.effort
    return settings or None


def log_stderr(line: str) -> None:
    logger.debug("claude: %s", line)


def cli_model(model: str) -> str | None:
    """The --model value: None lets the CLI use the account's default model."""
    return None if model == DEFAULT_MODEL_ALIAS else model


def build_options(
    plan: QueryPlan,
    settings: DeploymentSettings,
    stderr: Callable[[str], None] | None = None,
) -> sdk.ClaudeAgentOptions:
    """Options for one chat turn.

    ``tools=[]`` removes Claude Code's tools (``allowed_tools=[]`` would not);
    ``verbatim_prompts`` stops ``@/path`` mentions from making the CLI read
    files; ``setting_sources=[]`` keeps host settings, CLAUDE.md, hooks and MCP
    servers out; the string system prompt replaces Claude Code's preset.
    """
    fields: dict[str, Any] = dict(
        tools=[],
        allowed_tools=[],
        mcp_servers={},
        strict_mcp_config=True,
        setting_sources=[],
        skills=[],
        verbatim_prompts=True,
        include_partial_messages=True,
        system_prompt=_system_prompt(plan),
        model=cli_model(plan.model),
        cwd=plan.cwd,
        env=plan.env,
        resume=plan.resume,
        # Structured output is a tool call the CLI answers, then the model's
        # closing turn: room for that and one corrected attempt.
        max_turns=STRUCTURED_OUTPUT_TURNS if plan.output_schema else SEARCH_TURNS if plan.search else 1,
        output_format={"type": "json_schema", "schema": plan.output_schema} if plan.output_schema else None,
        effort=plan.effort,  # validated by params.controls_from
        thinking=plan.thinking,
        cli_path=settings.cli_path,
        extra_args=dict(EXTRA_ARGS),
        stderr=stderr,
    )
    fields.update(tools.sdk_options(plan.tools))  # the client's functions, deferred
    if plan.search is not None:
        _with_search(fields, plan.search)
    return sdk.ClaudeAgentOptions(**fields)


def _with_search(fields: dict[str, Any], spec: search.SearchSpec) -> None:
    """Claude Code's WebSearch and nothing else of its own (WebFetch above all stays off)."""
    fields["tools"] = [search.TOOL]
    fields["allowed_tools"] = [*fields["allowed_tools"], search.TOOL]
    hooks = dict(fields.get("hooks") or {})
    matcher = sdk.HookMatcher(matcher=search.TOOL, hooks=[search.hook(spec)])
    hooks["PreToolUse"] = [*hooks.get("PreToolUse", []), matcher]
    fields["hooks"] = hooks


def _system_prompt(plan: QueryPlan) -> str:
    rules = plan.tools.instructions
    return f"{plan.system_prompt}\n\n{rules}" if rules else plan.system_prompt
