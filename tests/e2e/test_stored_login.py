"""A proxy whose Claude Code processes would share a refreshable stored login does not start (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import claude_env, run_proxy

pytestmark = pytest.mark.e2e


def test_a_shared_refreshable_login_stops_the_proxy_at_start_up(mock: MockAnthropic, tmp_path: Path) -> None:
    oauth = {"accessToken": "sk-ant-oat01-stored", "refreshToken": "sk-ant-ort01-single-use", "expiresAt": 1}
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))
    env = {**claude_env(tmp_path, mock.url), "CLAUDE_CODE_OAUTH_TOKEN": ""}  # the stored login, no token
    with pytest.raises(RuntimeError, match="proxy did not start") as failed, run_proxy(tmp_path, env):
        pass
    assert "whose refresh token is single-use" in str(failed.value)
    assert "claude setup-token" in str(failed.value)
    assert not mock.requests
