"""The provider's Prometheus metrics, in the registry LiteLLM's ``/metrics`` serves (issue 12).

A collector reads the live state at scrape time (quotas, the runtime's
processes, the queue, request outcomes), so nothing is counted twice and
nothing goes stale: LiteLLM's Prometheus integration (``callbacks:
["prometheus"]``) serves prometheus_client's default registry, and this
collector is registered there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from ..counters import TOKEN_KINDS, Outcomes, Tokens
from ..quota import WINDOWS, Quotas
from .pool import Decision

STATUSES = ("allowed", "allowed_warning", "rejected")


@dataclass
class Routing:
    """The pool's routing decisions (issue 20): per model and deployment, new, kept or moved; refusals."""

    decisions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)

    def decided(self, model: str, decision: Decision) -> None:
        self.decisions[(model, decision.deployment, decision.how)] += 1

    def refused(self, model: str) -> None:
        self.refusals[model] += 1


class RoutingCollector(Collector):
    """The routing decisions and the keys' use of their pools' windows, read when scraped."""

    def __init__(self, routing: Routing, window_use: Callable[[], list[tuple[str, str, float]]] = list) -> None:
        self._routing = routing
        self._window_use = window_use

    def collect(self) -> Iterator[Any]:
        decisions = CounterMetricFamily(
            "claude_code_routing_decisions",
            "Requests routed to an account of the model's pool: new conversations, kept on their account, moved",
            labels=["model", "deployment", "decision"],
        )
        for (model, deployment, how), count in sorted(self._routing.decisions.items()):
            decisions.add_metric([model, deployment, how], count)
        refusals = CounterMetricFamily(
            "claude_code_routing_refusals",
            "Requests refused because no account of the model was within its plan limits (or allowed extra usage)",
            labels=["model"],
        )
        for model, count in sorted(self._routing.refusals.items()):
            refusals.add_metric([model], count)
        use = GaugeMetricFamily(
            "claude_code_window_share_used",
            "A key's estimated use of the 5-hour window of a model's account pool (0-1; docs/accounts.md)",
            labels=["key", "model"],
        )
        for key, model, used in self._window_use():
            use.add_metric([key, model], used)
        yield from (decisions, refusals, use)


class ProviderCollector(Collector):
    """Gauges and counters of one provider, read when scraped."""

    def __init__(
        self,
        quotas: Quotas,
        outcomes: Outcomes,
        processes: Callable[[], dict[str, int]],
        events: Callable[[], Counter[str]],
        queued: Callable[[], int],
        tokens: Tokens | None = None,
    ) -> None:
        self._quotas, self._outcomes = quotas, outcomes
        self._tokens = tokens or Tokens()
        self._processes, self._events, self._queued = processes, events, queued

    def collect(self) -> Iterator[Any]:
        utilization = GaugeMetricFamily(
            "claude_code_quota_utilization",
            "Share of the account's usage window used, as Claude Code last reported (0-1)",
            labels=["deployment", "model", "window"],
        )
        resets = GaugeMetricFamily(
            "claude_code_quota_resets_at_seconds",
            "When the account's usage window resets (Unix time)",
            labels=["deployment", "model", "window"],
        )
        status = GaugeMetricFamily(
            "claude_code_quota_status",
            "1 for the account's current quota status (allowed, allowed_warning, rejected)",
            labels=["deployment", "model", "status"],
        )
        seen = GaugeMetricFamily(
            "claude_code_quota_seen_at_seconds",
            "When Claude Code last reported the quota",
            labels=["deployment", "model"],
        )
        extra = GaugeMetricFamily(
            "claude_code_quota_extra_usage_in_use",
            "1 while the account answers from paid extra usage (plan limit reached, overage allowed)",
            labels=["deployment", "model"],
        )
        for deployment, quota in self._quotas.items():
            model = self._quotas.model_of.get(deployment, "")
            for name, short in WINDOWS.items():
                window = quota.windows.get(name)
                if window is not None and window.utilization is not None:
                    utilization.add_metric([deployment, model, short], window.utilization)
                if window is not None and window.resets_at:
                    resets.add_metric([deployment, model, short], window.resets_at)
            for name in STATUSES:
                status.add_metric([deployment, model, name], 1.0 if quota.status == name else 0.0)
            seen.add_metric([deployment, model], quota.seen_at)
            extra.add_metric([deployment, model], 1.0 if quota.using_extra_usage else 0.0)
        yield from (utilization, resets, status, seen, extra)
        processes = GaugeMetricFamily("claude_code_processes", "Claude Code processes by state", labels=["state"])
        for state, count in sorted(self._processes().items()):
            processes.add_metric([state], count)
        yield processes
        events = CounterMetricFamily(
            "claude_code_process_events",
            "How requests got their process: started, spare, reused, live, waited, cold, resumed, "
            "rewound (cut back), extended (the turns it lacked fed), replayed (a moved conversation's first answer)",
            labels=["event"],
        )
        for event, count in sorted(self._events().items()):
            events.add_metric([event], count)
        yield events
        yield GaugeMetricFamily("claude_code_queue_length", "Requests waiting for a session", value=self._queued())
        outcomes = CounterMetricFamily("claude_code_requests", "Requests answered, by HTTP status", labels=["status"])
        for code, count in sorted(self._outcomes.by_status.items()):
            outcomes.add_metric([str(code)], count)
        yield outcomes
        tokens = CounterMetricFamily(
            "claude_code_tokens",
            "Tokens of the answers by kind: input (neither read from nor written to the prompt cache), "
            "cache_read, cache_write, output; cache_read / (input + cache_read + cache_write) is the cache-hit ratio",
            labels=["deployment", "kind"],
        )
        for deployment, counts in sorted(self._tokens.by_deployment.items()):
            for kind in TOKEN_KINDS:
                tokens.add_metric([deployment, kind], counts[kind])
        yield tokens


def register(collector: Collector) -> None:
    REGISTRY.register(collector)
