"""Per-account quota, as Claude Code last reported it (issue 12).

After every API response Claude Code emits a ``rate_limit_event`` taken from the
API's ``anthropic-ratelimit-unified-*`` headers: a status (allowed,
allowed_warning, rejected), the representative window and its reset, the
overage status, and in ``raw.unifiedWindows`` the 5-hour and 7-day windows'
utilization, reset and status. The latest one per deployment is kept here (pure
state, no I/O), shown to clients as response headers, to operators in
``/metrics``, and used to answer at once, with no upstream call, a request to an
account whose usage window is exhausted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import claude_agent_sdk as sdk

from .errors import Failed, Failure

logger = logging.getLogger(__name__)

WINDOWS = {"five_hour": "5h", "seven_day": "7d"}
# Windows that cover every model of an account: a request for another model of
# the same account would be refused as well.
ACCOUNT_WINDOWS = frozenset({"five_hour", "seven_day"})
HEADER_PREFIX = "x-ratelimit-unified-"
# Overage statuses under which a rejected plan window is still served, from paid extra usage.
EXTRA_USAGE_STATUSES = frozenset({"allowed", "allowed_warning"})


@dataclass(frozen=True)
class Window:
    utilization: float | None
    resets_at: int | None  # Unix time
    status: str | None


@dataclass(frozen=True)
class Quota:
    """One deployment's account, as of ``seen_at``."""

    status: str
    resets_at: int | None
    window: str | None  # the representative window (rate_limit_type)
    overage_status: str | None
    windows: Mapping[str, Window]  # "five_hour", "seven_day"
    seen_at: float

    @property
    def exhausted_window(self) -> str | None:
        """The usage window that refuses requests, when the status is rejected with a reset."""
        return self.window if self.status == "rejected" and self.resets_at else None

    @property
    def using_extra_usage(self) -> bool:
        """The plan limit is reached and answers come from paid extra usage.

        Claude Code's own ``isUsingOverage``: status rejected with overage allowed (or allowed_warning).
        """
        return self.status == "rejected" and self.overage_status in EXTRA_USAGE_STATUSES


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _timestamp(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def quota_from(info: sdk.RateLimitInfo, seen_at: float) -> Quota:
    raw = info.raw if isinstance(info.raw, dict) else {}
    found = raw.get("unifiedWindows")
    unified: dict[str, Any] = found if isinstance(found, dict) else {}
    windows = {}
    for name in WINDOWS:
        entry = unified.get(name)
        if isinstance(entry, dict):
            status = entry.get("status")
            windows[name] = Window(
                _number(entry.get("utilization")),
                _timestamp(entry.get("resetsAt")),
                status if isinstance(status, str) else None,
            )
    return Quota(
        status=str(info.status),
        resets_at=info.resets_at,
        window=info.rate_limit_type,
        overage_status=info.overage_status,
        windows=windows,
        seen_at=seen_at,
    )


def _rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def headers(quota: Quota | None) -> dict[str, str]:
    """Response headers for a client: the account's quota as last seen."""
    if quota is None:
        return {}
    out = {f"{HEADER_PREFIX}status": quota.status}
    if quota.window:
        out[f"{HEADER_PREFIX}representative-claim"] = quota.window
    if quota.resets_at:
        out[f"{HEADER_PREFIX}reset"] = _rfc3339(quota.resets_at)
    if quota.overage_status:
        out[f"{HEADER_PREFIX}overage-status"] = quota.overage_status
    for name, short in WINDOWS.items():
        window = quota.windows.get(name)
        if window is None:
            continue
        if window.utilization is not None:
            out[f"{HEADER_PREFIX}{short}-utilization"] = f"{window.utilization:g}"
        if window.resets_at:
            out[f"{HEADER_PREFIX}{short}-reset"] = _rfc3339(window.resets_at)
        if window.status:
            out[f"{HEADER_PREFIX}{short}-status"] = window.status
    return out


class Quotas:
    """The latest quota of every deployment, and which accounts are refused until when."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._of: dict[str, Quota] = {}
        self._account_of: dict[str, Hashable] = {}
        self.model_of: dict[str, str] = {}  # deployment -> the model it serves, for people reading metrics

    def record(self, account: Hashable, deployment: str, info: sdk.RateLimitInfo, model: str = "") -> Quota:
        quota = quota_from(info, self._clock())
        before = self._of.get(deployment)
        self._of[deployment] = quota
        self._account_of[deployment] = account
        self.model_of[deployment] = model
        if before is None or before.status != quota.status:
            level = logging.WARNING if quota.status != "allowed" else logging.INFO
            logger.log(level, "Claude account of deployment %s: quota %s", deployment, _describe(quota))
        return quota

    def of(self, deployment: str) -> Quota | None:
        return self._of.get(deployment)

    def latest(self, account: Hashable, model: str) -> Quota | None:
        """The account's latest quota, from a deployment of ``model`` if there is one.

        For LiteLLM's health probes, which carry no deployment id.
        """
        mine = [(d, q) for d, q in self._of.items() if self._account_of.get(d) == account]
        same = [q for d, q in mine if self.model_of.get(d) == model] or [q for _, q in mine]
        return max(same, key=lambda q: q.seen_at, default=None)

    def of_model(self, model: str) -> list[tuple[str, Quota]]:
        """Every deployment of ``model`` heard from, with its latest quota."""
        return [(d, q) for d, q in self.items() if self.model_of.get(d) == model]

    def items(self) -> list[tuple[str, Quota]]:
        return sorted(self._of.items())

    def refused(self, account: Hashable, deployment: str, extra_usage: bool = False) -> tuple[float, str, bool] | None:
        """(seconds until the reset, window, whether extra usage would serve) while a usage window
        refuses this deployment's requests.

        A window that covers the whole account (5-hour, 7-day) refuses every
        deployment of that account; another (a model's own weekly window) only
        the deployment that reported it. With ``extra_usage`` (the deployment's
        ``extra_usage: allow``) an account answering from extra usage is not refused.
        """
        now = self._clock()
        for other, quota in self._of.items():
            window = quota.exhausted_window
            if window is None or quota.resets_at is None or quota.resets_at <= now:
                continue
            if extra_usage and quota.using_extra_usage:
                continue
            same = other == deployment or (window in ACCOUNT_WINDOWS and self._account_of.get(other) == account)
            if same:
                return quota.resets_at - now, window, quota.using_extra_usage
        return None

    def refuse_exhausted(self, account: Hashable, deployment: str, extra_usage: bool = False) -> None:
        """A 429 at once, no process and no upstream call, while the account's usage window is exhausted
        (and, unless ``extra_usage`` is allowed, while it answers from extra usage)."""
        refused = self.refused(account, deployment, extra_usage)
        if refused is not None:
            seconds, window, extra = refused
            message = f"this Claude account's {window} usage limit is reached; it resets in {seconds:.0f}s"
            if extra:
                message = f"{message}. {EXTRA_USAGE_REFUSED}"
            raise Failed(Failure(status=429, message=message, retry_after=seconds))


EXTRA_USAGE_REFUSED = (
    "The account would answer from paid extra usage, which this proxy's configuration refuses"
    " (model_info.claude_code.extra_usage: refuse)"
)


def _describe(quota: Quota) -> str:
    parts = [quota.status]
    for name, short in WINDOWS.items():
        window = quota.windows.get(name)
        if window is not None and window.utilization is not None:
            parts.append(f"{short} {window.utilization:.0%}")
    if quota.resets_at:
        parts.append(f"resets {_rfc3339(quota.resets_at)}")
    return ", ".join(parts)


def remaining(quota: Quota | None) -> str | None:
    """The windows' room left, for /health (LiteLLM shows only its x-ratelimit-remaining-* fields there)."""
    if quota is None:
        return None
    parts = []
    for name, short in WINDOWS.items():
        window = quota.windows.get(name)
        if window is None or window.utilization is None:
            continue
        left = f"{short} {max(0.0, 1 - window.utilization):.0%} left"
        parts.append(f"{left} until {_rfc3339(window.resets_at)}" if window.resets_at else left)
    status = f"{quota.status} (using extra usage)" if quota.using_extra_usage else quota.status
    return f"{status}: {'; '.join(parts)}" if parts else status
