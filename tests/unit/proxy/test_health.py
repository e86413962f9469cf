"""LiteLLM's health probes: recognised only from the proxy's own metadata, answered locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code.errors import LOGIN_HINT
from litellm_claude_code.proxy.health import PROBE_ACCOUNT, binary_problem, is_health_probe, login_problem, probe_chunks

PROBE_METADATA = {"tags": [PROBE_ACCOUNT], "user_api_key_team_id": PROBE_ACCOUNT}


@pytest.mark.parametrize(
    ("litellm_params", "expected"),
    [
        ({"metadata": PROBE_METADATA}, True),
        ({"litellm_metadata": PROBE_METADATA}, True),
        (None, False),
        ({}, False),
        # A caller sending the tag in its body: the proxy sets the team id from its key.
        ({"metadata": {"tags": [PROBE_ACCOUNT], "user_api_key_team_id": "team-1"}}, False),
        ({"metadata": {"tags": [PROBE_ACCOUNT]}}, False),
        ({"metadata": {"user_api_key_team_id": PROBE_ACCOUNT, "tags": []}}, False),
        ({"metadata": "not a mapping"}, False),
    ],
)
def test_probe_recognised(litellm_params: dict[str, Any] | None, expected: bool) -> None:
    assert is_health_probe(litellm_params) is expected


def test_login_from_token_credentials_or_api_key(tmp_path: Path) -> None:
    assert login_problem("oauth", {"CLAUDE_CODE_OAUTH_TOKEN": "t"}, str(tmp_path)) is None
    assert login_problem("oauth", {}, str(tmp_path), keychain=False) == LOGIN_HINT
    (tmp_path / ".credentials.json").write_text("{}")
    assert login_problem("oauth", {}, str(tmp_path), keychain=False) is None
    assert login_problem("api_key", {"ANTHROPIC_API_KEY": "k"}, str(tmp_path)) is None
    assert login_problem("api_key", {"CLAUDE_CODE_OAUTH_TOKEN": "t"}, str(tmp_path)) == (
        "auth: api_key is configured but no API key is set"
    )


def test_keychain_logins_cannot_be_seen_so_are_not_reported(tmp_path: Path) -> None:
    assert login_problem("oauth", {}, str(tmp_path), keychain=True) is None
    assert login_problem("api_key", {}, str(tmp_path), keychain=True) is not None


def test_binary_configured_bundled_or_missing(tmp_path: Path) -> None:
    runnable = tmp_path / "claude"
    runnable.write_text("#!/bin/sh\n")
    runnable.chmod(0o755)
    missing = tmp_path / "nowhere" / "claude"
    assert binary_problem(str(runnable), missing) is None
    assert binary_problem(None, runnable) is None
    assert binary_problem(str(missing), runnable) == f"Claude Code binary not found or not executable: {missing}"


def test_probe_answer_is_empty_and_stopped() -> None:
    (chunk,) = probe_chunks("sonnet")
    assert chunk.model == "sonnet"
    assert (chunk.choices[0].delta.content, chunk.choices[0].finish_reason) == ("", "stop")
