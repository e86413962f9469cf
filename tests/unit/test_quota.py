"""Quota state from Claude Code's rate_limit_event: parsing, headers, refusals."""

from __future__ import annotations

import logging
from typing import Any

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.quota import Quotas, headers, quota_from, remaining

NOW = 1_800_000_000


def info(status: str = "allowed", window: str | None = "five_hour", resets_at: int | None = NOW + 60) -> Any:
    raw = {
        "status": status,
        "resetsAt": resets_at,
        "rateLimitType": window,
        "overageStatus": "rejected",
        "unifiedWindows": {
            "five_hour": {"utilization": 0.82, "resetsAt": NOW + 60, "status": "allowed_warning"},
            "seven_day": {"utilization": 0.41, "resetsAt": NOW + 86400, "status": "allowed"},
        },
    }
    fields: dict[str, Any] = {"status": status, "resets_at": resets_at, "rate_limit_type": window}
    return sdk.RateLimitInfo(**fields, overage_status="rejected", raw=raw)


def test_headers_carry_every_window() -> None:
    assert headers(quota_from(info(), NOW)) == {
        "x-ratelimit-unified-status": "allowed",
        "x-ratelimit-unified-representative-claim": "five_hour",
        "x-ratelimit-unified-reset": "2027-01-15T08:01:00Z",
        "x-ratelimit-unified-overage-status": "rejected",
        "x-ratelimit-unified-5h-utilization": "0.82",
        "x-ratelimit-unified-5h-reset": "2027-01-15T08:01:00Z",
        "x-ratelimit-unified-5h-status": "allowed_warning",
        "x-ratelimit-unified-7d-utilization": "0.41",
        "x-ratelimit-unified-7d-reset": "2027-01-16T08:00:00Z",
        "x-ratelimit-unified-7d-status": "allowed",
    }
    assert headers(None) == {}


def test_an_event_without_windows_gives_its_status_only() -> None:
    bare = sdk.RateLimitInfo(status="rejected", raw={"status": "rejected"})
    assert headers(quota_from(bare, NOW)) == {"x-ratelimit-unified-status": "rejected"}


@pytest.mark.parametrize(
    ("window", "other_deployment_refused"),
    [("five_hour", True), ("seven_day", True), ("seven_day_opus", False)],
)
def test_an_exhausted_window_refuses_the_deployments_it_covers(window: str, other_deployment_refused: bool) -> None:
    quotas = Quotas(clock=lambda: NOW)
    quotas.record("account", "sonnet-a", info("rejected", window))
    assert quotas.refused("account", "sonnet-a") == (60, window, False)
    assert (quotas.refused("account", "haiku-a") is not None) is other_deployment_refused
    assert quotas.refused("another account", "sonnet-b") is None


def test_a_window_refuses_nothing_once_reset_or_allowed() -> None:
    now = [NOW]
    quotas = Quotas(clock=lambda: now[0])
    quotas.record("account", "d", info("rejected"))
    now[0] = NOW + 61
    assert quotas.refused("account", "d") is None
    quotas.record("account", "d", info("allowed"))
    now[0] = NOW
    assert quotas.refused("account", "d") is None


def test_a_status_change_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    quotas = Quotas(clock=lambda: NOW)
    with caplog.at_level(logging.INFO, logger="litellm_claude_code.quota"):
        for status in ("allowed", "allowed", "allowed_warning", "allowed_warning", "allowed"):
            quotas.record("account", "d", info(status))
    assert [r.getMessage().split("quota ")[1].split(",")[0] for r in caplog.records] == [
        "allowed",
        "allowed_warning",
        "allowed",
    ]


def test_remaining_room_for_health() -> None:
    assert remaining(quota_from(info(), NOW)) == (
        "allowed: 5h 18% left until 2027-01-15T08:01:00Z; 7d 59% left until 2027-01-16T08:00:00Z"
    )
    assert remaining(quota_from(sdk.RateLimitInfo(status="rejected", raw={}), NOW)) == "rejected"
    assert remaining(None) is None


def test_the_latest_quota_of_an_account_prefers_its_model() -> None:
    now = [NOW]
    quotas = Quotas(clock=lambda: now[0])
    quotas.record("account", "d-opus", info(), model="opus")
    now[0] += 1
    quotas.record("account", "d-haiku", info("allowed_warning"), model="haiku")
    quotas.record("other", "d-other", info("rejected"), model="opus")
    assert quotas.latest("account", "opus").status == "allowed"  # type: ignore[union-attr]  # recorded just above
    assert quotas.latest("account", "sonnet").status == "allowed_warning"  # type: ignore[union-attr]  # recorded just above
    assert quotas.latest("nobody", "opus") is None
