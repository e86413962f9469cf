"""The router hook that picks an account of a model's pool, and the headers that say which."""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
import pytest

from litellm_claude_code.proxy.affinity import Affinity
from litellm_claude_code.proxy.hooks import ProxyHooks
from litellm_claude_code.quota import Quotas

from ..test_quota import info
from .test_pool import NOW


def deployment(identity: str, model: str = "claude-code/sonnet", **settings: Any) -> dict[str, Any]:
    return {"litellm_params": {"model": model}, "model_info": {"id": identity, "claude_code": settings}}


def hooks_with(reports: dict[str, Any], configured: list[dict[str, Any]] | None = None) -> ProxyHooks:
    quotas = Quotas(clock=lambda: NOW)
    for identity, report in reports.items():
        quotas.record(identity, identity, report, model="sonnet")
    return ProxyHooks(quotas, Affinity(lambda: None), clock=lambda: NOW, deployments_of=lambda model: configured or [])


def route(hooks: ProxyHooks, offered: list[dict[str, Any]], messages: list[Any], **kwargs: Any) -> list[str]:
    chosen = asyncio.run(hooks.async_filter_deployments("sonnet", offered, messages, kwargs))
    return [d["model_info"]["id"] for d in chosen]


def rate_limit(status: str, five: float, overage: str = "rejected") -> Any:
    report = info(status)
    report.raw["unifiedWindows"]["five_hour"]["utilization"] = five
    report.overage_status = overage
    return report


FIRST = [{"role": "user", "content": "hi"}]
LATER = [*FIRST, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]


def test_one_account_is_handed_to_the_router_and_a_conversation_stays_there() -> None:
    hooks = hooks_with({"a": rate_limit("allowed", 0.6), "b": rate_limit("allowed", 0.2)})
    offered = [deployment("a"), deployment("b")]
    assert route(hooks, offered, FIRST, litellm_call_id="call-1") == ["b"]
    hooks._quotas.record("b", "b", rate_limit("allowed", 0.7), model="sonnet")  # type: ignore[union-attr]
    assert route(hooks, offered, LATER) == ["b"]  # kept: b still has room
    assert route(hooks, offered, [{"role": "user", "content": "another"}]) == ["a"]  # new: the most room
    assert dict(hooks.routing.decisions) == {
        ("sonnet", "b", "new"): 1,
        ("sonnet", "b", "kept"): 1,
        ("sonnet", "a", "new"): 1,
    }
    headers = asyncio.run(
        hooks.async_post_call_response_headers_hook(
            {"litellm_call_id": "call-1"}, None, None, litellm_call_info={"model_id": "b"}
        )
    )
    assert headers is not None
    assert (headers["x-claude-code-account"], headers["x-claude-code-routing"]) == ("b", "new")
    assert headers["x-claude-code-account-standing"] == "room"
    assert headers["x-ratelimit-unified-status"] == "allowed"


def test_deployments_the_router_tried_are_left_out_and_other_groups_left_alone() -> None:
    hooks = hooks_with({"a": rate_limit("allowed", 0.6), "b": rate_limit("allowed", 0.2)})
    offered = [deployment("a"), deployment("b")]
    assert route(hooks, offered, FIRST, _excluded_deployment_ids=["b"]) == ["a"]
    mixed = [deployment("a"), deployment("gpt", model="openai/gpt-4o")]
    assert route(hooks, mixed, FIRST) == ["a", "gpt"]
    assert route(hooks, [], FIRST) == []


def test_a_pool_with_no_account_in_its_plan_is_a_429_naming_the_guard() -> None:
    hooks = hooks_with({"a": rate_limit("rejected", 1.0, overage="allowed"), "b": rate_limit("rejected", 1.0)})
    with pytest.raises(litellm.RateLimitError) as refused:
        route(hooks, [deployment("a"), deployment("b")], FIRST)
    assert "refused by this proxy's configuration" in str(refused.value)
    assert (refused.value.headers or {}).get("retry-after") == "60"
    assert hooks.routing.refusals["sonnet"] == 1
    allowed = [deployment("a", extra_usage="allow"), deployment("b")]
    assert route(hooks, allowed, FIRST) == ["a"]


def test_a_pool_the_router_has_cooled_down_whole_is_refused_with_the_reason_when_its_plans_are_spent() -> None:
    configured = [deployment("a"), deployment("b")]
    spent = hooks_with({"a": rate_limit("rejected", 1.0), "b": rate_limit("rejected", 1.0)}, configured)
    with pytest.raises(litellm.RateLimitError, match="plan limit of every Claude account serving 'sonnet'"):
        route(spent, [], FIRST)
    # cooled down for another reason (a throttle): LiteLLM's own answer stands
    throttled = hooks_with({"a": rate_limit("allowed", 0.2)}, configured)
    assert route(throttled, [], FIRST) == []
    assert route(hooks_with({}), [], FIRST) == []  # outside the proxy: no router to ask


def test_health_probes_are_not_routed() -> None:
    hooks = hooks_with({"a": rate_limit("rejected", 1.0)})
    probe = {
        "metadata": {"user_api_key_team_id": "litellm-internal-health-check", "tags": ["litellm-internal-health-check"]}
    }
    assert route(hooks, [deployment("a")], FIRST, **probe) == ["a"]
