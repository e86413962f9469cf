"""Choosing an account of a model's pool from the accounts' quota (pure)."""

from __future__ import annotations

from typing import Any

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.proxy.pool import Candidate, Pool, Standing, standing, utilization
from litellm_claude_code.quota import Quota, quota_from

NOW = 1_800_000_000


def quota(five: float, seven: float = 0.1, status: str = "allowed", overage: str = "rejected") -> Quota:
    raw: dict[str, Any] = {
        "unifiedWindows": {
            "five_hour": {"utilization": five, "resetsAt": NOW + 600},
            "seven_day": {"utilization": seven, "resetsAt": NOW + 86400},
        }
    }
    info = sdk.RateLimitInfo(
        status=status,  # type: ignore[arg-type]  # the literal's values, given as plain strings
        resets_at=NOW + 600,
        rate_limit_type="five_hour",
        overage_status=overage,  # type: ignore[arg-type]
        raw=raw,
    )
    return quota_from(info, NOW)


def pool(*candidates: Candidate) -> Pool:
    return Pool(candidates, NOW)


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (None, Standing.UNMEASURED),
        (quota(0.2), Standing.ROOM),
        (quota(0.2, seven=0.85), Standing.WARNING),  # either window counts
        (quota(0.5, status="allowed_warning"), Standing.WARNING),  # the API's own warning
        (quota(1.0, status="rejected", overage="allowed"), Standing.EXTRA_USAGE),
        (quota(1.0, status="rejected", overage="allowed_warning"), Standing.EXTRA_USAGE),
        (quota(1.0, status="rejected"), Standing.EXHAUSTED),
        (quota_from(sdk.RateLimitInfo(status="rejected", resets_at=NOW + 60, raw={}), NOW), Standing.WARNING),
    ],
)
def test_standing(report: Quota | None, expected: Standing) -> None:
    assert standing(report, 0.8, NOW) is expected


def test_a_refusal_past_its_reset_is_measured_again() -> None:
    spent = quota(1.0, status="rejected")
    assert standing(spent, 0.8, NOW + 601) is Standing.UNMEASURED
    assert utilization(spent, NOW + 601) == 0.1  # the 5-hour window has reset; the 7-day one has not


def test_new_conversations_go_to_the_unmeasured_then_the_most_room() -> None:
    full, roomy = Candidate("a", quota(0.92)), Candidate("b", quota(0.15))
    assert pool(full, roomy).choose(None).deployment == "b"  # type: ignore[union-attr]  # a choice exists
    assert pool(full, roomy, Candidate("c", None)).choose(None).deployment == "c"  # type: ignore[union-attr]
    assert pool(Candidate("a", quota(0.3, seven=0.7)), Candidate("b", quota(0.5))).choose(None).deployment == "b"  # type: ignore[union-attr]


def test_past_the_threshold_only_when_no_other_has_room() -> None:
    warned, spent = Candidate("a", quota(0.85)), Candidate("b", quota(1.0, status="rejected"))
    decision = pool(warned, spent).choose(None)
    assert decision is not None
    assert (decision.deployment, decision.standing) == ("a", Standing.WARNING)


def test_a_conversation_stays_until_its_account_is_past_the_threshold_while_another_has_room() -> None:
    a, b = Candidate("a", quota(0.6)), Candidate("b", quota(0.1))
    kept = pool(a, b).choose("a")
    assert kept is not None
    assert (kept.deployment, kept.how) == ("a", "kept")  # b has more room, but a still has room
    warned = Candidate("a", quota(0.9))
    moved = pool(warned, b).choose("a")
    assert moved is not None
    assert (moved.deployment, moved.how) == ("b", "moved")
    # past the threshold with nowhere better to go: it stays
    stays = pool(warned, Candidate("b", quota(0.95))).choose("a")
    assert stays is not None
    assert (stays.deployment, stays.how) == ("a", "kept")
    # its account gone from the router's offer (cooled down, tried): it moves
    gone = pool(b).choose("a")
    assert gone is not None
    assert (gone.deployment, gone.how) == ("b", "moved")


def test_extra_usage_is_refused_unless_allowed_and_then_comes_last() -> None:
    extra = quota(1.0, status="rejected", overage="allowed")
    refused = pool(Candidate("a", extra), Candidate("b", quota(1.0, status="rejected")))
    assert refused.choose(None) is None
    failure = refused.refusal("sonnet")
    assert failure.status == 429
    assert failure.retry_after == 600
    assert "plan limit of every Claude account serving 'sonnet' is reached" in failure.message
    assert "extra usage (paid, past the plan) is refused by this proxy's configuration" in failure.message
    assert "earliest plan reset is in 600s" in failure.message
    allowed = Candidate("a", extra, extra_usage_allowed=True)
    assert pool(allowed, Candidate("b", quota(0.9))).choose(None).deployment == "b"  # type: ignore[union-attr]
    last = pool(allowed, Candidate("b", quota(1.0, status="rejected"))).choose(None)
    assert last is not None
    assert (last.deployment, last.standing) == ("a", Standing.EXTRA_USAGE)


def test_a_spent_pool_without_extra_usage_says_only_the_plan_limit() -> None:
    failure = pool(Candidate("a", quota(1.0, status="rejected"))).refusal("opus")
    assert "extra usage" not in failure.message
    assert failure.retry_after == 600
