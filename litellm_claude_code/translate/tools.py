"""OpenAI function calling through Claude Code, without running anything here.

The client's functions are offered to the model as in-process SDK MCP tools
(Claude Code's own tools stay off). A ``PreToolUse`` hook answers
``permissionDecision: "defer"`` for every call of one of them, so the CLI stops
before any handler runs and the call travels back to the client as
``tool_calls``. The model sees the client's own names: with
``CLAUDE_AGENT_SDK_MCP_NO_PREFIX`` (set by ``environment``) the CLI names an SDK
server's tools as the server lists them, not ``mcp__<server>__<tool>``. Two
kinds of name cannot be given as they are (CLI 2.1.331): a tool of Claude
Code's own that the request turns on takes the place of a client's tool of the
same name, so such a name is refused (``check_names``); and ``ToolSearch`` is
Claude Code's tool search whatever tools are on (with its tool search off, as
``environment`` sets it, the CLI drops a tool of that name; with it on, that
tool's presence hides every other tool behind it), so the client's
``ToolSearch`` is offered as ``mcp__client__ToolSearch`` (``CLI_RESERVED``) and
its calls come back under the client's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import claude_agent_sdk as sdk
import jsonschema

SERVER = "client"
# Names the CLI takes as its own whatever tools are on: offered with the old MCP prefix.
CLI_RESERVED = frozenset({"ToolSearch"})
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolError(ValueError):
    """A tool definition or tool_choice the model cannot be given (a 400)."""


@dataclass(frozen=True)
class Function:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """The client's functions and how the model may use them."""

    functions: tuple[Function, ...] = ()
    choice: str = "auto"  # auto | none | required | a function name
    parallel: bool = True
    instructions: str | None = field(default=None)  # added to the system prompt

    @property
    def names(self) -> frozenset[str]:
        """The names of the functions offered, as the client gave them."""
        return frozenset(f.name for f in self.offered)

    @property
    def cli_names(self) -> dict[str, str]:
        """The offered functions' names inside Claude Code (a call under one is the client's) -> the client's."""
        return {cli_name(f.name): f.name for f in self.offered}

    @property
    def offered(self) -> tuple[Function, ...]:
        if self.choice == "none":
            return ()
        if self.choice in ("auto", "required"):
            return self.functions
        return tuple(f for f in self.functions if f.name == self.choice)


def cli_name(name: str) -> str:
    """The name the model is offered a client function under: the client's own, but for ``CLI_RESERVED``."""
    return f"mcp__{SERVER}__{name}" if name in CLI_RESERVED else name


def _function(index: int, tool: object) -> Function:
    where = f"tools[{index}]"
    if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
        raise ToolError(f"{where}: only tools of type 'function' are supported")
    spec = tool.get("function")
    if not isinstance(spec, Mapping):
        raise ToolError(f"{where}.function is missing")
    name = spec.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ToolError(f"{where}.function.name must match {NAME_PATTERN.pattern}, got {name!r}")
    parameters = spec.get("parameters") or {"type": "object", "properties": {}}
    _check_schema(parameters, f"{where}.function.parameters")
    return Function(name, str(spec.get("description") or ""), dict(parameters))


def _check_schema(schema: object, where: str) -> None:
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise ToolError(f"{where} must be a JSON Schema of type 'object'")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ToolError(f"{where} is not a valid JSON Schema: {error.message}") from None


def _functions(tools: object) -> tuple[Function, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise ToolError("tools must be a list")
    functions = tuple(_function(i, t) for i, t in enumerate(tools))
    names = [f.name for f in functions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ToolError(f"duplicate tool names: {duplicates}")
    return functions


def _choice(value: object, functions: tuple[Function, ...]) -> str:
    if value is None:
        return "auto"
    if value in ("auto", "none", "required"):
        return str(value)
    name = value.get("function", {}).get("name") if isinstance(value, Mapping) else None
    if not isinstance(name, str):
        raise ToolError("tool_choice must be 'auto', 'none', 'required' or {'type': 'function', 'function': {'name'}}")
    if name not in {f.name for f in functions}:
        raise ToolError(f"tool_choice names {name!r}, which is not in tools")
    return name


def _instructions(choice: str, parallel: bool) -> str | None:
    # Claude Code sets no tool_choice upstream; these rules carry the client's.
    rules = []
    if choice == "required":
        rules.append("You must answer by calling one of the available tools.")
    elif choice not in ("auto", "none"):
        rules.append(f"You must answer by calling the tool {choice}.")
    if not parallel:
        rules.append("Call at most one tool in a turn.")
    return " ".join(rules) or None


def tool_spec(params: Mapping[str, Any]) -> ToolSpec:
    """Read ``tools``, ``tool_choice`` and ``parallel_tool_calls``."""
    if params.get("functions"):
        raise ToolError("the legacy 'functions' parameter is not supported; use 'tools'")
    functions = _functions(params.get("tools"))
    choice = _choice(params.get("tool_choice"), functions)
    if choice != "auto" and not functions and choice != "none":
        raise ToolError("tool_choice is set but no tools are given")
    parallel = params.get("parallel_tool_calls", True) is not False
    return ToolSpec(functions, choice, parallel, _instructions(choice, parallel) if functions else None)


def check_names(spec: ToolSpec, own: frozenset[str]) -> None:
    """Refuse a function named as one of Claude Code's own tools that this request enables (``own``).

    The model cannot be offered two tools of one name (the API refuses
    duplicates), and the CLI would offer its own in place of the client's.
    """
    taken = sorted(spec.names & own)
    if taken:
        raise ToolError(
            f"tools: {taken} is also the name of a tool this request enables"
            f" ({', '.join(sorted(own))}); rename the function"
        )


async def _never_runs(arguments: dict[str, Any]) -> dict[str, Any]:
    # The PreToolUse hook defers every call before a handler could run.
    raise RuntimeError("client tools are executed by the client, not here")


def defer_calls(names: frozenset[str]) -> sdk.HookCallback:
    """PreToolUse hook: stop before one of the client's tools (``names``) runs and hand the call back.

    Only the client's tools: Claude Code's WebSearch, when a request asks for
    search, is decided by its own hook (``search.hook``); ``check_names`` keeps
    the two sets apart.
    """

    async def defer(hook_input: sdk.HookInput, tool_use_id: str | None, context: sdk.HookContext) -> sdk.HookJSONOutput:
        if hook_input.get("tool_name") not in names:
            return {}
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "defer"}}

    return defer


def sdk_options(spec: ToolSpec) -> dict[str, Any]:
    """ClaudeAgentOptions fields that offer the client's functions, deferred."""
    offered = spec.offered
    if not offered:
        return {}
    tools = [sdk.SdkMcpTool(cli_name(f.name), f.description, f.parameters, _never_runs) for f in offered]
    return {
        "mcp_servers": {SERVER: sdk.create_sdk_mcp_server(SERVER, tools=tools)},
        "allowed_tools": [cli_name(f.name) for f in offered],
        "hooks": {"PreToolUse": [sdk.HookMatcher(matcher=None, hooks=[defer_calls(frozenset(spec.cli_names))])]},
    }


def cli_history(turns: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier turns with the model's tool calls under the names it was offered them by (``cli_name``)."""
    return [_renamed(turn) for turn in turns]


def _renamed(turn: dict[str, Any]) -> dict[str, Any]:
    content = turn.get("content")
    if turn.get("role") != "assistant" or not isinstance(content, list):
        return turn
    if not any(isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") in CLI_RESERVED for b in content):
        return turn
    blocks = [
        {**b, "name": cli_name(b["name"])} if isinstance(b, dict) and b.get("type") == "tool_use" else b
        for b in content
    ]
    return {**turn, "content": blocks}
