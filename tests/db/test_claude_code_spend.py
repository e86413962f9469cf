"""Claude Code as a client, on a virtual key: the key's spend is what the model that answered costs (issue 29)."""

from __future__ import annotations

from pathlib import Path

import litellm
import pytest

from tests.anthropic_mock import MockAnthropic, Reply
from tests.e2e.harness import Proxy
from tests.e2e.test_claude_code import claude_json

from .conftest import generate_key, key_info, list_price, spend_logs, wait_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]


def test_a_claude_code_run_is_spent_on_its_key_at_the_answering_models_price(
    db_proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    reply = Reply(chunks=["pong"], input_tokens=1200, output_tokens=30)
    mock.default = reply
    key = generate_key(db_proxy.url, db_proxy.master_key)
    result = claude_json(db_proxy, tmp_path, "Reply with pong.", key=key)  # its default model, claude-opus-5-5
    assert result["result"] == "pong"
    assert [r.body["model"] for r in mock.requests] == ["claude-opus-5-5"]
    assert "claude-opus-5-5" in litellm.model_cost
    price = list_price(reply, "claude-opus-5-5")
    spent = wait_for(lambda: key_info(db_proxy.url, db_proxy.master_key, key)["spend"] or None, "the key's spend")
    assert spent == pytest.approx(price)
    [log] = wait_for(lambda: spend_logs(db_proxy.url, db_proxy.master_key, key), "the key's spend log")
    assert log["model_group"] == "claude-opus-5-5"  # the id asked for, served by the claude-* entry
    assert log["spend"] == pytest.approx(price)
