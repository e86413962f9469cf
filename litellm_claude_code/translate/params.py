"""OpenAI request parameters -> what Claude Code can honour, or a clear 400.

Every OpenAI chat parameter either takes effect, is refused with a message
naming it, or is documented as ignored (``IGNORED``). Claude Code makes the
API call itself and exposes few of its knobs: function calling (``tools``), the
output-token cap (``CLAUDE_CODE_MAX_OUTPUT_TOKENS``), effort and thinking. Stop
sequences are applied to the reply as it streams (see ``stops.StopCutter``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .search import TOOL as SEARCH_TOOL
from .search import SearchError, SearchSpec, search_spec
from .tools import ToolError, ToolSpec, check_names, tool_spec

# Accepted and not applied: Claude Code chooses its own sampling settings.
IGNORED = frozenset(
    {"temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "user", "top_k"}
)
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# OpenAI's reasoning_effort names -> Claude effort levels ("none" turns thinking off).
REASONING_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
MAX_STOP_SEQUENCES = 4


# The tool through which the CLI returns ``output_format``'s structured output.
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"


class ParamError(ValueError):
    """A request parameter cannot be honoured (a 400 naming it)."""


@dataclass(frozen=True)
class Controls:
    """What a request asks of the reply, in Claude Code's terms."""

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    effort: str | None = None
    thinking: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None  # response_format as a JSON Schema
    tools: ToolSpec = field(default_factory=ToolSpec)
    search: SearchSpec | None = None  # web_search_options: Claude's web search for this request


def _max_tokens(params: Mapping[str, Any]) -> int | None:
    value = params.get("max_completion_tokens", params.get("max_tokens"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamError(f"max_tokens must be a positive integer, got {value!r}")
    return value


def _stop(params: Mapping[str, Any]) -> tuple[str, ...]:
    value = params.get("stop")
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise ParamError("stop must be a non-empty string or a list of non-empty strings")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ParamError(f"stop allows at most {MAX_STOP_SEQUENCES} sequences, got {len(stops)}")
    return tuple(stops)


def _thinking(params: Mapping[str, Any]) -> dict[str, Any] | None:
    value = params.get("thinking")
    if value is None:
        return {"type": "disabled"} if params.get("reasoning_effort") == "none" else None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind in ("disabled", "adaptive"):
        return {"type": kind}
    budget = value.get("budget_tokens") if isinstance(value, Mapping) else None
    if kind == "enabled" and isinstance(budget, int) and not isinstance(budget, bool) and budget >= 1024:
        return {"type": "enabled", "budget_tokens": budget}
    raise ParamError(
        "thinking must be {'type': 'enabled', 'budget_tokens': >= 1024}, {'type': 'adaptive'} or {'type': 'disabled'}"
    )


def _effort(params: Mapping[str, Any]) -> str | None:
    value = params.get("reasoning_effort")
    if value is None or value == "none":
        return None
    if value not in REASONING_EFFORT:
        raise ParamError(f"reasoning_effort must be one of {['none', *REASONING_EFFORT]}, got {value!r}")
    return REASONING_EFFORT[value]


def _refuse_unsupported(params: Mapping[str, Any]) -> None:
    n = params.get("n")
    if n not in (None, 1):
        raise ParamError(f"n={n!r} is not supported: Claude Code gives one choice per request; send separate requests")
    if params.get("logprobs") or params.get("top_logprobs"):
        raise ParamError("logprobs are not available from Claude")


def _output_schema(params: Mapping[str, Any]) -> dict[str, Any] | None:
    value = params.get("response_format")
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    schema = (value.get("json_schema") or {}).get("schema") if kind == "json_schema" else None
    if kind == "json_schema" and isinstance(schema, Mapping) and schema.get("type") == "object":
        return dict(schema)
    if kind == "json_schema":
        raise ParamError("response_format json_schema needs json_schema.schema, a JSON Schema of type 'object'")
    raise ParamError(f"response_format type must be 'text', 'json_object' or 'json_schema', got {kind!r}")


def _tools(params: Mapping[str, Any]) -> ToolSpec:
    try:
        return tool_spec(params)
    except ToolError as error:
        raise ParamError(str(error)) from None


def _search(params: Mapping[str, Any]) -> SearchSpec | None:
    try:
        return search_spec(params)
    except SearchError as error:
        raise ParamError(str(error)) from None


def _own_tools(controls: Controls) -> frozenset[str]:
    """Claude Code's own tools the request enables: WebSearch for search, the CLI's structured output tool."""
    own = {SEARCH_TOOL} if controls.search is not None else set()
    return frozenset(own | ({STRUCTURED_OUTPUT_TOOL} if controls.output_schema is not None else set()))


def controls_from(params: Mapping[str, Any] | None) -> Controls:
    """Read and validate the OpenAI parameters LiteLLM passed on."""
    params = params or {}
    _refuse_unsupported(params)
    controls = Controls(
        max_tokens=_max_tokens(params),
        stop=_stop(params),
        effort=_effort(params),
        thinking=_thinking(params),
        output_schema=_output_schema(params),
        tools=_tools(params),
        search=_search(params),
    )
    try:
        check_names(controls.tools, _own_tools(controls))
    except ToolError as error:
        raise ParamError(str(error)) from None
    return controls


def cli_env(controls: Controls) -> dict[str, str]:
    """Environment for the CLI that carries the controls it reads from there."""
    env: dict[str, str] = {}
    if controls.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(controls.max_tokens)
    thinking = controls.thinking or {}
    if thinking.get("type") == "disabled":
        env["CLAUDE_CODE_DISABLE_THINKING"] = "1"
    if thinking.get("type") == "enabled":
        env["MAX_THINKING_TOKENS"] = str(thinking["budget_tokens"])
    return env
