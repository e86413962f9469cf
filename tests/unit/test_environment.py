"""The Claude Code process environment: OAuth first, bounded retries."""

from __future__ import annotations

from litellm_claude_code.environment import cli_environment, config_dir
from litellm_claude_code.settings import DeploymentSettings


def test_oauth_blanks_api_keys_and_passes_token() -> None:
    parent = {"ANTHROPIC_API_KEY": "sk-ant-api", "CLAUDE_CODE_OAUTH_TOKEN": "oat"}
    env = cli_environment(DeploymentSettings(), parent)
    assert env["ANTHROPIC_API_KEY"] == ""
    assert env["ANTHROPIC_AUTH_TOKEN"] == ""
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "oat"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "1"


def test_token_from_a_named_variable_per_account() -> None:
    env = cli_environment(DeploymentSettings(oauth_token_env="ACCOUNT_B_TOKEN"), {"ACCOUNT_B_TOKEN": "b"})
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "b"


def test_api_key_only_when_asked() -> None:
    env = cli_environment(
        DeploymentSettings(auth="api_key"), {"ANTHROPIC_API_KEY": "sk", "CLAUDE_CODE_OAUTH_TOKEN": "o"}
    )
    assert (env["ANTHROPIC_API_KEY"], env["CLAUDE_CODE_OAUTH_TOKEN"]) == ("sk", "")


def test_account_directory_and_base_url() -> None:
    env = cli_environment(DeploymentSettings(config_dir="/srv/acct", base_url="http://gw", max_retries=0), {})
    assert (env["CLAUDE_CONFIG_DIR"], env["ANTHROPIC_BASE_URL"], env["CLAUDE_CODE_MAX_RETRIES"]) == (
        "/srv/acct",
        "http://gw",
        "0",
    )


def test_server_defaults_can_be_overridden_by_the_operator() -> None:
    env = cli_environment(DeploymentSettings(), {"DISABLE_TELEMETRY": "0"})
    assert env["DISABLE_TELEMETRY"] == "0"
    assert env["DISABLE_AUTOUPDATER"] == "1"


def test_client_tools_keep_their_names_whatever_the_operator_set() -> None:
    env = cli_environment(DeploymentSettings(), {"CLAUDE_AGENT_SDK_MCP_NO_PREFIX": "", "ENABLE_TOOL_SEARCH": "true"})
    assert (env["CLAUDE_AGENT_SDK_MCP_NO_PREFIX"], env["ENABLE_TOOL_SEARCH"]) == ("1", "false")


def test_config_dir_resolution() -> None:
    assert config_dir({"CLAUDE_CONFIG_DIR": "/a"}, {"CLAUDE_CONFIG_DIR": "/b"}) == "/a"
    assert config_dir({}, {"CLAUDE_CONFIG_DIR": "/b"}) == "/b"


def test_compaction_is_off_whatever_the_operator_sets() -> None:
    parent = {"DISABLE_COMPACT": "0", "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "200000"}
    env = cli_environment(DeploymentSettings(), parent)
    assert env["DISABLE_COMPACT"] == "1"
    assert int(env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"]) >= 100_000_000
