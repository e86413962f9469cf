"""Options for a pure-chat query: nothing of the host exposed."""

from __future__ import annotations

from litellm_claude_code.runtime.options import QueryPlan, build_options
from litellm_claude_code.settings import DeploymentSettings


def _plan(model: str = "sonnet") -> QueryPlan:
    return QueryPlan(model=model, system_prompt="Be terse.", cwd="/tmp/x", env={"A": "1"}, resume="sid")


def test_pure_chat_options() -> None:
    options = build_options(_plan(), DeploymentSettings())
    assert options.tools == []
    assert options.setting_sources == []
    assert options.verbatim_prompts is True
    assert options.include_partial_messages is True
    assert options.mcp_servers == {}
    assert options.strict_mcp_config is True
    assert options.system_prompt == "Be terse."
    assert (options.model, options.cwd, options.resume, options.max_turns) == ("sonnet", "/tmp/x", "sid", 1)
    assert "no-session-persistence" in options.extra_args
    assert options.env == {"A": "1"}


def test_default_model_passes_no_model() -> None:
    assert build_options(_plan("default"), DeploymentSettings()).model is None


def test_full_model_id_passes_through() -> None:
    assert build_options(_plan("claude-3-5-haiku-20241022"), DeploymentSettings()).model == "claude-3-5-haiku-20241022"
