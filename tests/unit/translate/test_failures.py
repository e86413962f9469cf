"""Failure facts gathered from the stream, for the result that reports the failure."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_claude_code.errors import Failure
from litellm_claude_code.translate.failures import FailureFacts

from ..sdk_messages import rate_limited, result


@pytest.mark.parametrize(
    ("kind", "resets_at", "fields", "failure"),
    [
        (None, None, {"api_error_status": 529, "text": "overloaded"}, Failure(status=529, message="overloaded")),
        (
            "authentication_failed",
            None,
            {"text": "Not logged in · Please run /login"},
            Failure(kind="authentication_failed", message="Not logged in · Please run /login"),
        ),
        (None, 1042, {"api_error_status": 429, "text": "limited"}, Failure(429, message="limited", retry_after=42.0)),
        (None, 990, {"api_error_status": 429, "text": "limited"}, Failure(429, message="limited", retry_after=0.0)),
        (
            "invalid_request",
            None,
            {"api_error_status": 400, "text": "Prompt is too long", "terminal_reason": "prompt_too_long"},
            Failure(400, "invalid_request", "Prompt is too long", context_exceeded=True),
        ),
        (
            "unknown",
            None,
            {"text": "Connection error.", "terminal_reason": "api_error"},
            Failure(kind="unknown", message="Connection error.", api_unreachable=True),
        ),
        (None, None, {}, Failure(message="Claude Code failed (success)")),
    ],
    ids=["status", "not-logged-in", "reset-ahead", "reset-passed", "context-exceeded", "unreachable", "no-text"],
)
def test_failure_of_a_result(kind: str | None, resets_at: int | None, fields: dict[str, Any], failure: Failure) -> None:
    facts = FailureFacts(clock=lambda: 1000.0)
    if kind is not None:
        facts.errored(kind)
    if resets_at is not None:
        facts.limited(rate_limited(resets_at).rate_limit_info)
    assert facts.of(result(is_error=True, **fields)) == failure


@pytest.mark.parametrize(
    ("data", "failure"),
    [
        (
            {"error_status": 429, "retry_delay_ms": 7548, "error": "rate_limit"},
            Failure(
                429, "rate_limit", "Claude's API is limiting requests (rate_limit); retry after the wait given", 7.548
            ),
        ),
        (
            {"error_status": 429, "retry_delay_ms": True},
            Failure(429, "rate_limit", "Claude's API is limiting requests (rate_limit); retry after the wait given"),
        ),
        ({"error_status": 529, "retry_delay_ms": 2000}, None),
        ({}, None),
    ],
    ids=["throttled", "no-usable-delay", "overloaded-is-left-to-claude-code", "no-status"],
)
def test_throttled(data: dict[str, Any], failure: Failure | None) -> None:
    assert FailureFacts(clock=lambda: 0.0).throttled(data) == failure
