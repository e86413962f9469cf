"""Per-key shares of a pool's 5-hour window: the estimate and the refusal."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import claude_agent_sdk as sdk
import pytest
from fastapi import HTTPException

from litellm_claude_code.proxy.affinity import Affinity
from litellm_claude_code.proxy.hooks import ProxyHooks
from litellm_claude_code.proxy.shares import ShareError, Shares, share_of
from litellm_claude_code.quota import Quota, Quotas, quota_from

NOW = 1_800_000_000
HELLO = [{"role": "user", "content": "hello"}]
RESET = NOW + 3600


def report(five: float, resets_at: int = RESET, seen_at: float = NOW) -> Quota:
    raw = {"unifiedWindows": {"five_hour": {"utilization": five, "resetsAt": resets_at}}}
    return quota_from(sdk.RateLimitInfo(status="allowed", raw=raw), seen_at)


def test_a_share_is_the_keys_else_the_teams() -> None:
    assert share_of({"claude_code_window_share": 0.25}, {"claude_code_window_share": 0.5}) == 0.25
    assert share_of({}, {"claude_code_window_share": 1}) == 1.0
    assert share_of(None, None) is None
    for bad in (0, 1.5, "half", True):
        with pytest.raises(ShareError, match="above 0 and at most 1"):
            share_of({"claude_code_window_share": bad}, None)


def test_use_before_the_proxy_is_not_charged_and_keys_share_the_rise() -> None:
    shares = Shares()
    shares.record("a", "k1", 10, report(0.30))  # 0.25 was used before the proxy: the first report sets the base
    shares.record("a", "k2", 10, report(0.35))
    shares.record("a", "k1", 20, report(0.45))
    # 30 weighted tokens raised utilization by 0.15: 0.005 a token
    used, reset = shares.used("k1", ["a"], NOW)
    assert used == pytest.approx(0.15)
    assert reset == RESET
    assert shares.used("k2", ["a"], NOW)[0] == pytest.approx(0.05)
    assert shares.used("k1", ["a", "b"], NOW)[0] == pytest.approx(0.075)  # two accounts: two windows
    assert shares.used("nobody", ["a"], NOW) == (0.0, None)
    assert shares.used("k1", [], NOW) == (0.0, None)


def test_one_report_shares_out_the_reported_utilization_and_a_new_window_starts_afresh() -> None:
    shares = Shares()
    shares.record("a", "k1", 10, report(0.2))
    assert shares.used("k1", ["a"], NOW)[0] == pytest.approx(0.2)
    assert shares.used("k1", ["a"], RESET + 1) == (0.0, None)  # past its reset: nothing counts
    shares.record("a", "k2", 10, report(0.01, resets_at=RESET + 18000, seen_at=RESET + 1))
    assert shares.used("k1", ["a"], RESET + 1) == (0.0, None)
    assert shares.used("k2", ["a"], RESET + 1)[0] == pytest.approx(0.01)
    shares.record("a", "k2", 0, report(0.5))  # nothing spent, nothing counted
    shares.record("a", "k2", 10, None)
    assert shares.served_keys() == ["k2"]


def _logged(deployment: str, key: str, cost: float) -> dict[str, Any]:
    metadata = {"user_api_key_hash": key, "user_api_key_alias": "alias-" + key}
    return {"standard_logging_object": {"model_id": deployment, "response_cost": cost, "metadata": metadata}}


def test_a_key_past_its_share_gets_a_429_until_the_reset_and_others_go_on() -> None:
    quotas = Quotas(clock=lambda: NOW)
    deployments = [{"litellm_params": {"model": "claude-code/opus"}, "model_info": {"id": "a"}}]
    hooks = ProxyHooks(quotas, Affinity(lambda: None), clock=lambda: NOW, deployments_of=lambda model: deployments)
    raw = {"unifiedWindows": {"five_hour": {"utilization": 0.3, "resetsAt": RESET}}}
    quotas.record("acct", "a", sdk.RateLimitInfo(status="allowed", raw=raw), model="opus")
    asyncio.run(hooks.async_log_success_event(_logged("a", "k1", 0.01), None, None, None))
    limited = SimpleNamespace(token="k1", metadata={"claude_code_window_share": 0.25}, team_metadata=None)
    with pytest.raises(HTTPException) as refused:
        asyncio.run(hooks.async_pre_call_hook(limited, None, {"model": "opus", "messages": HELLO}, "completion"))
    assert refused.value.status_code == 429
    assert refused.value.headers == {"retry-after": "3600"}
    assert "(25%) is used up (estimated 30%)" in str(refused.value.detail)
    other = SimpleNamespace(token="k2", metadata={"claude_code_window_share": 0.25}, team_metadata=None)
    asyncio.run(hooks.async_pre_call_hook(other, None, {"model": "opus", "messages": HELLO}, "completion"))
    unlimited = SimpleNamespace(token="k1", metadata={}, team_metadata={})
    asyncio.run(hooks.async_pre_call_hook(unlimited, None, {"model": "opus", "messages": HELLO}, "completion"))
    [(alias, model, used)] = hooks.window_use()
    assert (alias, model) == ("alias-k1", "opus")
    assert used == pytest.approx(0.3)
    bad = SimpleNamespace(token="k1", metadata={"claude_code_window_share": 2}, team_metadata=None)
    with pytest.raises(HTTPException) as misconfigured:
        asyncio.run(hooks.async_pre_call_hook(bad, None, {"model": "opus", "messages": HELLO}, "completion"))
    assert misconfigured.value.status_code == 500


def test_answers_without_a_key_or_a_cost_are_not_counted() -> None:
    hooks = ProxyHooks(Quotas(), Affinity(lambda: None))
    asyncio.run(hooks.async_log_success_event({"standard_logging_object": {"model_id": "a"}}, None, None, None))
    asyncio.run(hooks.async_log_success_event({}, None, None, None))
    assert hooks.shares.served_keys() == []
    assert ProxyHooks().window_use() == []
