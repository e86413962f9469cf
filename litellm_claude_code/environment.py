"""The environment a Claude Code process runs with: account, auth and limits.

``ClaudeAgentOptions.env`` is merged over the proxy's own environment, so this
module only states what must differ from it.
"""

from __future__ import annotations

from collections.abc import Mapping

from .settings import DeploymentSettings, expand

# Quiet, bounded defaults for a server: no update checks, telemetry or side
# requests that would spend the subscription on something no caller asked for.
SERVER_DEFAULTS: dict[str, str] = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_ERROR_REPORTING": "1",
    # Defence in depth next to tools=[] / verbatim_prompts / setting_sources=[]:
    # no @file mentions, CLAUDE.md files, auto-memory or bundled skills, and no
    # prompt history file that would keep callers' prompts on the server.
    "CLAUDE_CODE_DISABLE_FILE_MENTIONS": "1",
    "CLAUDE_CODE_DISABLE_CLAUDE_MDS": "1",
    "CLAUDE_CODE_DISABLE_AUTO_MEMORY": "1",
    "CLAUDE_CODE_DISABLE_BUNDLED_SKILLS": "1",
    "CLAUDE_CODE_SKIP_PROMPT_HISTORY": "1",
    # The client's tools reach the model as MCP tools, whose descriptions the CLI
    # cuts at 4,096 characters by default ("… [truncated]"): OpenCode's bash tool
    # has 4,628. Faithful means the model reads the whole description.
    "CLAUDE_CODE_MAX_MCP_DESCRIPTION_LENGTH": "1000000",
}

# The client owns its conversation: Claude Code never shortens it on its own, and
# the API, not Claude Code, decides what is too long. Not overridable by the
# proxy's environment (a summary the client never sent would reach the model).
# In the pinned CLI:
# - DISABLE_COMPACT turns off every compaction: automatic (near the window the
#   CLI believes the model has), reactive (retrying after the API's "prompt is
#   too long" with a summary), idle (before the prompt cache expires) and
#   /compact. DISABLE_AUTO_COMPACT and the autoCompactEnabled setting cover only
#   the first and the idle one.
# - With compaction off the CLI refuses a turn itself ("Prompt is too long", no
#   request sent) once the context its last answer reported passes its blocking
#   limit: the window it believes the model has, less up to 20,000 output
#   tokens and 3,000 more. CLAUDE_CODE_MAX_CONTEXT_TOKENS, honoured only with
#   DISABLE_COMPACT, replaces that believed window (for every model, known or
#   not), so the limit sits above any real window and the API answers instead.
NO_COMPACTION: dict[str, str] = {
    "DISABLE_COMPACT": "1",
    "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "1000000000",
}

# Credentials the CLI would prefer over an OAuth login when present: an API key
# in the proxy's environment must not silently turn a subscription deployment
# into a pay-per-token one (the CLI uses ANTHROPIC_API_KEY when both are set).
API_KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def _auth_env(settings: DeploymentSettings, parent: Mapping[str, str]) -> dict[str, str]:
    if settings.auth == "api_key":
        return {
            "ANTHROPIC_API_KEY": parent.get(settings.api_key_env, ""),
            "CLAUDE_CODE_OAUTH_TOKEN": "",
        }
    env = {name: "" for name in API_KEY_VARIABLES}
    token = parent.get(settings.oauth_token_env)
    if token:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = token
    return env


def cli_environment(settings: DeploymentSettings, parent: Mapping[str, str]) -> dict[str, str]:
    """Variables to set (or blank) for one deployment's Claude Code process."""
    env = {key: parent.get(key, value) for key, value in SERVER_DEFAULTS.items()}
    env.update(NO_COMPACTION)
    env["CLAUDE_CODE_MAX_RETRIES"] = str(settings.max_retries)
    # The client's functions (an SDK MCP server) reach the model under the
    # client's names, not mcp__client__<name>: not overridable, the provider
    # tells the client's calls by those names (translate.tools).
    env["CLAUDE_AGENT_SDK_MCP_NO_PREFIX"] = "1"
    # Claude Code's own tool search off: on, it hides the client's functions
    # behind a ToolSearch tool of its own as soon as one is called ToolSearch,
    # and the model would not see the tools the client sent.
    env["ENABLE_TOOL_SEARCH"] = "false"
    env.update(_auth_env(settings, parent))
    if settings.config_dir:
        env["CLAUDE_CONFIG_DIR"] = str(expand(settings.config_dir))
    if settings.base_url:
        env["ANTHROPIC_BASE_URL"] = settings.base_url
    return env


def config_dir(env: Mapping[str, str], parent: Mapping[str, str]) -> str:
    """The Claude config directory the process will use (where sessions live)."""
    chosen = env.get("CLAUDE_CONFIG_DIR") or parent.get("CLAUDE_CONFIG_DIR")
    if chosen:
        return str(expand(chosen))
    return str(expand("~/.claude"))
