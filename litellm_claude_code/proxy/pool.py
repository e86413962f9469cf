"""A model's Claude accounts as one pool (issue 20): which account serves a request.

Pure decisions on the quota Claude Code last reported per deployment
(``quota.Quotas``); the proxy hook (``hooks.ProxyHooks.async_filter_deployments``)
hands LiteLLM's router the one deployment chosen here.

- Each account stands somewhere: not heard from yet, with room, past the warning
  threshold (either window at or past ``warning_threshold``, or the API's own
  ``allowed_warning``), answering from paid extra usage, or exhausted.
- A new conversation goes to an account not heard from yet (so every account
  gets measured), else to the one with the most room (the fuller of its 5-hour
  and 7-day windows counts), else to one past the threshold, else to one on
  extra usage whose deployment allows it (``extra_usage: allow``).
- A later turn stays on the account that served the conversation before (its
  prompt cache is there) unless that account is no longer usable, or is past the
  threshold (or on extra usage) while another has room: then it moves, once,
  and stays on its new account.
- With no usable account the request is refused with a 429 whose Retry-After is
  the earliest plan reset, saying why (and that extra usage is refused by the
  proxy's configuration when that is what stops an account).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from ..errors import Failure
from ..quota import WINDOWS, Quota


class Standing(IntEnum):
    """Where an account stands; lower serves new conversations first."""

    UNMEASURED = 0  # no report yet (or its limit has reset since): tried, so it gets measured
    ROOM = 1
    WARNING = 2
    EXTRA_USAGE = 3  # the plan limit is reached, answers come from paid extra usage
    EXHAUSTED = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Candidate:
    """One deployment (account) of the model, as the router offers it."""

    deployment: str
    quota: Quota | None
    extra_usage_allowed: bool = False
    warning_threshold: float = 0.8


@dataclass(frozen=True)
class Decision:
    deployment: str
    how: str  # "new" (a new conversation), "kept" (stayed on its account), "moved"
    standing: Standing


def _live(quota: Quota, now: float) -> bool:
    """The report's refusal still applies (its reset is ahead)."""
    return quota.resets_at is None or quota.resets_at > now


def utilization(quota: Quota | None, now: float) -> float:
    """The fuller of the account's windows (0-1); a window past its reset counts as empty."""
    used = 0.0
    for name in WINDOWS:
        window = quota.windows.get(name) if quota is not None else None
        if window is None or window.utilization is None:
            continue
        if window.resets_at is not None and window.resets_at <= now:
            continue
        used = max(used, window.utilization)
    return used


def standing(quota: Quota | None, threshold: float, now: float) -> Standing:
    if quota is None:
        return Standing.UNMEASURED
    if quota.status == "rejected":
        if not _live(quota, now):
            return Standing.UNMEASURED  # the limit has reset since the report
        if quota.using_extra_usage:
            return Standing.EXTRA_USAGE
        if quota.exhausted_window is not None:
            return Standing.EXHAUSTED
        # Rejected with no window or reset named: nothing says what is exhausted until when (the
        # provider does not refuse it either), so it is tried, after every account with room.
        return Standing.WARNING
    if quota.status == "allowed_warning" or utilization(quota, now) >= threshold:
        return Standing.WARNING
    return Standing.ROOM


class Pool:
    """Decisions for one model's candidates at time ``now``."""

    def __init__(self, candidates: Sequence[Candidate], now: float) -> None:
        self._candidates = list(candidates)
        self._now = now

    def standing(self, candidate: Candidate) -> Standing:
        return standing(candidate.quota, candidate.warning_threshold, self._now)

    def _usable(self, candidate: Candidate) -> bool:
        place = self.standing(candidate)
        return place < Standing.EXTRA_USAGE or (place == Standing.EXTRA_USAGE and candidate.extra_usage_allowed)

    def _rank(self, candidate: Candidate) -> tuple[Standing, float]:
        return self.standing(candidate), utilization(candidate.quota, self._now)

    def choose(self, pinned: str | None) -> Decision | None:
        """The deployment for a request whose conversation ``pinned`` served before (None: a new one).

        None when no account is usable: ``refusal`` says why.
        """
        usable = [c for c in self._candidates if self._usable(c)]
        if not usable:
            return None
        best = min(usable, key=self._rank)  # ties: the router's order
        if pinned is None:
            return Decision(best.deployment, "new", self.standing(best))
        pin = next((c for c in usable if c.deployment == pinned), None)
        if pin is not None and (self.standing(pin) <= Standing.ROOM or self.standing(best) > Standing.ROOM):
            return Decision(pin.deployment, "kept", self.standing(pin))
        return Decision(best.deployment, "moved", self.standing(best))

    def refusal(self, model: str) -> Failure:
        """The 429 when no account of ``model`` is usable, with Retry-After at the earliest plan reset."""
        resets = [
            c.quota.resets_at
            for c in self._candidates
            if c.quota is not None and c.quota.resets_at is not None and c.quota.resets_at > self._now
        ]
        wait = max(0.0, min(resets) - self._now) if resets else None
        extra = any(self.standing(c) == Standing.EXTRA_USAGE for c in self._candidates)
        message = f"the plan limit of every Claude account serving {model!r} is reached"
        if extra:
            message += (
                "; extra usage (paid, past the plan) is refused by this proxy's configuration"
                " (model_info.claude_code.extra_usage: refuse)"
            )
        if wait is not None:
            message += f"; the earliest plan reset is in {math.ceil(wait)}s"
        return Failure(status=429, message=message, retry_after=wait)
