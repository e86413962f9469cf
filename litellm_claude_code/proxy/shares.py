"""Per-key shares of an account pool's 5-hour window (issue 20), estimated from what the proxy sees.

A virtual key (or its team) with ``metadata: {"claude_code_window_share": 0.25}``
may use a quarter of the 5-hour windows of the accounts serving a model; past
that its requests get a 429 until the window resets, and other keys go on.

The API reports each account's utilization, not who used it, so a key's use is
estimated. Per account and 5-hour window, the proxy adds up the weighted
tokens it served (the answer's list price, LiteLLM's ``response_cost``: input,
output and cache tokens weighted as the plan's usage is believed to weigh
them), per key and in all. The account's utilization per weighted token is
measured from the rise of the reported utilization since the window's first
report here, against the weighted tokens served since; so use made before the
proxy's first answer (or outside it, before the window started) is not charged
to any key. With one report only, the reported utilization is shared out in
proportion. A key's use of an account is its weighted tokens times that rate;
its use of the pool is the sum over the pool's accounts divided by their number
(each account has one window). What the estimate cannot see: use of the same
account outside the proxy while the window runs (charged to the proxy's keys,
in proportion), and other replicas' answers (each replica counts its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..quota import Quota

SHARE_KEY = "claude_code_window_share"
WINDOW = "five_hour"


class ShareError(ValueError):
    """A key's or team's ``claude_code_window_share`` is not a share."""


def share_of(key_metadata: object, team_metadata: object) -> float | None:
    """The share set on the key, else on its team; None when neither sets one."""
    for metadata in (key_metadata, team_metadata):
        value = metadata.get(SHARE_KEY) if isinstance(metadata, Mapping) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ShareError(f"metadata {SHARE_KEY} must be a number above 0 and at most 1, got {value!r}")
        return float(value)
    return None


@dataclass
class AccountWindow:
    """One account's current 5-hour window, as far as this proxy served it."""

    resets_at: int | None
    tokens: float = 0.0  # weighted tokens served in this window
    by_key: dict[str, float] = field(default_factory=dict)
    utilization: float = 0.0  # as last reported
    first: tuple[float, float] | None = None  # (utilization, tokens) at the window's first report here

    def rate(self) -> float:
        """Utilization per weighted token."""
        if self.first is not None:
            rise, served = self.utilization - self.first[0], self.tokens - self.first[1]
            if rise > 0 and served > 0:
                return rise / served
        return self.utilization / self.tokens if self.tokens > 0 else 0.0


class Shares:
    """Each key's estimated use of each account's 5-hour window."""

    def __init__(self) -> None:
        self._windows: dict[str, AccountWindow] = {}

    def record(self, deployment: str, key: str, weight: float, quota: Quota | None) -> None:
        """An answer of ``weight`` weighted tokens for ``key`` by ``deployment``, whose quota is now ``quota``."""
        if quota is None or weight <= 0:
            return
        window = quota.windows.get(WINDOW)
        if window is None or window.utilization is None:
            return
        current = self._windows.get(deployment)
        if current is None or (current.resets_at is not None and current.resets_at <= quota.seen_at):
            current = self._windows[deployment] = AccountWindow(window.resets_at)  # a new window
        if window.resets_at is not None:
            current.resets_at = window.resets_at
        current.tokens += weight
        current.by_key[key] = current.by_key.get(key, 0.0) + weight
        current.utilization = window.utilization
        if current.first is None:
            current.first = (window.utilization, current.tokens)

    def used(self, key: str, deployments: Sequence[str], now: float) -> tuple[float, float | None]:
        """(the key's estimated use of the pool's window, 0-1; the earliest reset that lowers it, Unix time)."""
        if not deployments:
            return 0.0, None
        total, resets = 0.0, []
        for deployment in deployments:
            window = self._windows.get(deployment)
            if window is None or (window.resets_at is not None and window.resets_at <= now):
                continue
            mine = window.by_key.get(key, 0.0) * window.rate()
            total += mine
            if mine > 0 and window.resets_at is not None:
                resets.append(window.resets_at)
        return total / len(deployments), min(resets, default=None)

    def served_keys(self) -> list[str]:
        return sorted({key for window in self._windows.values() for key in window.by_key})
