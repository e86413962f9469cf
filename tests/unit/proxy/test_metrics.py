"""The provider's own metrics (issue 12): every family and label the collectors serve, read as a
scrape reads them. The counters behind requests and tokens are tested in ``test_counters``."""

from __future__ import annotations

from collections import Counter

import claude_agent_sdk as sdk
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import REGISTRY, Collector

from litellm_claude_code.counters import Outcomes, Tokens
from litellm_claude_code.proxy.metrics import ProviderCollector, Routing, RoutingCollector, register
from litellm_claude_code.proxy.pool import Decision, Standing
from litellm_claude_code.quota import Quotas

NOW = 1_800_000_000

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(collector: Collector) -> Samples:
    """What ``/metrics`` serves of ``collector``: each sample by name and labels."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples named ``name``, by their labels."""
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


def provider(
    quotas: Quotas | None = None,
    outcomes: Outcomes | None = None,
    processes: dict[str, int] | None = None,
    events: Counter[str] | None = None,
    queued: int = 0,
    tokens: Tokens | None = None,
) -> ProviderCollector:
    return ProviderCollector(
        quotas or Quotas(),
        outcomes or Outcomes(),
        lambda: dict(processes or {}),
        lambda: Counter(events or {}),
        lambda: queued,
        tokens,
    )


def rate_limit(
    status: str, five: float | None, seven: float | None = 0.4, overage: str = "rejected"
) -> sdk.RateLimitInfo:
    windows: dict[str, dict[str, object]] = {}
    if five is not None or seven is not None:
        windows["five_hour"] = {"utilization": five, "resetsAt": NOW + 3600}
        windows["seven_day"] = {"utilization": seven, "resetsAt": NOW + 86400}
    raw = {"unifiedWindows": windows}
    return sdk.RateLimitInfo(status=status, resets_at=NOW + 3600, overage_status=overage, raw=raw)  # type: ignore[arg-type]


# -- quota gauges -------------------------------------------------------------------------


def test_quota_gauges_give_each_deployments_windows_reset_status_and_when_seen() -> None:
    quotas = Quotas(clock=lambda: NOW)
    quotas.record("acct-a", "a", rate_limit("allowed_warning", 0.82, 0.41), model="sonnet")
    quotas.record("acct-b", "b", rate_limit("allowed", None, None), model="opus")
    samples = scrape(provider(quotas))
    assert of(samples, "claude_code_quota_utilization") == {
        labels(deployment="a", model="sonnet", window="5h"): 0.82,
        labels(deployment="a", model="sonnet", window="7d"): 0.41,
    }  # b reported no window: no utilization made up for it
    assert of(samples, "claude_code_quota_resets_at_seconds") == {
        labels(deployment="a", model="sonnet", window="5h"): NOW + 3600,
        labels(deployment="a", model="sonnet", window="7d"): NOW + 86400,
    }
    assert of(samples, "claude_code_quota_status") == {
        labels(deployment="a", model="sonnet", status="allowed"): 0.0,
        labels(deployment="a", model="sonnet", status="allowed_warning"): 1.0,
        labels(deployment="a", model="sonnet", status="rejected"): 0.0,
        labels(deployment="b", model="opus", status="allowed"): 1.0,
        labels(deployment="b", model="opus", status="allowed_warning"): 0.0,
        labels(deployment="b", model="opus", status="rejected"): 0.0,
    }
    assert of(samples, "claude_code_quota_seen_at_seconds") == {
        labels(deployment="a", model="sonnet"): NOW,
        labels(deployment="b", model="opus"): NOW,
    }


def test_a_window_reported_without_its_utilization_has_no_utilization_sample() -> None:
    quotas = Quotas(clock=lambda: NOW)
    quotas.record("acct-a", "a", rate_limit("allowed", None, 0.3), model="sonnet")
    samples = scrape(provider(quotas))
    assert of(samples, "claude_code_quota_utilization") == {labels(deployment="a", model="sonnet", window="7d"): 0.3}
    assert len(of(samples, "claude_code_quota_resets_at_seconds")) == 2  # both windows say when they reset


@pytest.mark.parametrize(
    ("status", "overage", "in_use"),
    [("rejected", "allowed", 1.0), ("rejected", "allowed_warning", 1.0), ("rejected", "rejected", 0.0)],
)
def test_extra_usage_in_use_is_1_only_past_the_plan_with_overage_allowed(
    status: str, overage: str, in_use: float
) -> None:
    quotas = Quotas(clock=lambda: NOW)
    quotas.record("acct-a", "a", rate_limit(status, 1.0, overage=overage), model="sonnet")
    quotas.record("acct-b", "b", rate_limit("allowed", 0.1, overage=overage), model="sonnet")
    assert of(scrape(provider(quotas)), "claude_code_quota_extra_usage_in_use") == {
        labels(deployment="a", model="sonnet"): in_use,
        labels(deployment="b", model="sonnet"): 0.0,  # within its plan: no extra usage, whatever is allowed
    }


# -- processes, events, queue, outcomes ------------------------------------------------------


def test_processes_by_state_events_and_queue_are_read_at_each_scrape() -> None:
    processes = {"busy": 2, "idle": 1, "spare": 3, "starting": 1}
    events: Counter[str] = Counter({"cold": 4, "spare": 2, "live": 7})
    waiting = [5]
    collector = ProviderCollector(Quotas(), Outcomes(), lambda: processes, lambda: events, lambda: waiting[0])
    samples = scrape(collector)
    assert of(samples, "claude_code_processes") == {labels(state=s): float(n) for s, n in processes.items()}
    assert of(samples, "claude_code_process_events_total") == {labels(event=e): float(n) for e, n in events.items()}
    assert of(samples, "claude_code_queue_length") == {(): 5.0}
    processes["busy"], waiting[0] = 0, 0  # the live state changes: the next scrape says so
    events["reused"] += 1
    again = scrape(collector)
    assert of(again, "claude_code_processes")[labels(state="busy")] == 0.0
    assert of(again, "claude_code_process_events_total")[labels(event="reused")] == 1.0
    assert of(again, "claude_code_queue_length") == {(): 0.0}


def test_requests_by_status() -> None:
    outcomes = Outcomes()
    for status in (200, 200, 429, 499):
        outcomes.count(status)
    assert of(scrape(provider(outcomes=outcomes)), "claude_code_requests_total") == {
        labels(status="200"): 2.0,
        labels(status="429"): 1.0,
        labels(status="499"): 1.0,
    }


def test_nothing_served_yet_is_empty_families_not_made_up_samples() -> None:
    samples = scrape(provider())
    assert of(samples, "claude_code_queue_length") == {(): 0.0}
    assert {name for name, _ in samples} == {"claude_code_queue_length"}


# -- tokens -----------------------------------------------------------------------------------


def test_tokens_by_deployment_and_every_kind() -> None:
    tokens = Tokens()
    tokens.by_deployment["account-a"] = Counter({"input": 7, "cache_read": 230, "cache_write": 39, "output": 11})
    tokens.by_deployment["account-b"] = Counter({"input": 50, "output": 1})
    assert of(scrape(provider(tokens=tokens)), "claude_code_tokens_total") == {
        labels(deployment="account-a", kind="input"): 7.0,
        labels(deployment="account-a", kind="cache_read"): 230.0,
        labels(deployment="account-a", kind="cache_write"): 39.0,
        labels(deployment="account-a", kind="output"): 11.0,
        labels(deployment="account-b", kind="input"): 50.0,
        labels(deployment="account-b", kind="cache_read"): 0.0,  # every kind, counted or not
        labels(deployment="account-b", kind="cache_write"): 0.0,
        labels(deployment="account-b", kind="output"): 1.0,
    }


# -- routing ----------------------------------------------------------------------------------


def test_routing_decisions_refusals_and_window_shares_by_their_labels() -> None:
    routing = Routing()
    for deployment, how in (("a", "new"), ("a", "kept"), ("a", "kept"), ("b", "moved")):
        routing.decided("sonnet", Decision(deployment, how, Standing.ROOM))
    routing.decided("opus", Decision("c", "new", Standing.UNMEASURED))
    routing.refused("sonnet")
    routing.refused("sonnet")
    use = [("alias-one", "sonnet", 0.25), ("0123456789abcdef", "opus", 0.5)]
    samples = scrape(RoutingCollector(routing, lambda: use))
    assert of(samples, "claude_code_routing_decisions_total") == {
        labels(model="sonnet", deployment="a", decision="new"): 1.0,
        labels(model="sonnet", deployment="a", decision="kept"): 2.0,
        labels(model="sonnet", deployment="b", decision="moved"): 1.0,
        labels(model="opus", deployment="c", decision="new"): 1.0,
    }
    assert of(samples, "claude_code_routing_refusals_total") == {labels(model="sonnet"): 2.0}
    assert of(samples, "claude_code_window_share_used") == {
        labels(key="alias-one", model="sonnet"): 0.25,
        labels(key="0123456789abcdef", model="opus"): 0.5,
    }


def test_register_puts_a_collector_in_the_registry_litellms_metrics_endpoint_serves() -> None:
    """LiteLLM's Prometheus callback serves prometheus_client's default registry: ours must be there."""
    routing = Routing()
    routing.refused("registered-model")
    collector = RoutingCollector(routing)
    register(collector)
    try:
        text = generate_latest(REGISTRY).decode()
    finally:
        REGISTRY.unregister(collector)
    assert 'claude_code_routing_refusals_total{model="registered-model"} 1.0' in text
