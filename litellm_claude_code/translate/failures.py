"""Facts about a failure, gathered from the stream before its result reports it (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import claude_agent_sdk as sdk

from ..errors import Failure

# ResultMessage.terminal_reason values meaning the conversation does not fit the
# model's context: reported as ContextWindowExceededError so LiteLLM's
# context_window_fallbacks apply.
CONTEXT_EXCEEDED_REASONS = frozenset({"prompt_too_long"})


class FailureFacts:
    """The error kind and rate-limit reset seen so far, for the failure a result may report."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._kind: str | None = None  # AssistantMessage.error: its text is the CLI's, reported with the result
        self._retry_at: float | None = None

    def errored(self, kind: str) -> None:
        self._kind = kind

    def limited(self, info: sdk.RateLimitInfo) -> None:
        if info.status == "rejected" and info.resets_at:
            self._retry_at = float(info.resets_at)

    def throttled(self, data: dict[str, Any]) -> Failure | None:
        """A 429 Claude Code is about to wait out and retry (``api_retry``), as a failure of its own.

        Answered at once instead, with upstream's wait as Retry-After (issue
        12): the router can then try the model's other accounts within a
        second, and a client with a single account gets the hint instead of a
        silent wait that ends in the same 429. Other retries are left to
        Claude Code.
        """
        if data.get("error_status") != 429:
            return None
        delay = data.get("retry_delay_ms")
        seconds = delay / 1000 if isinstance(delay, (int, float)) and not isinstance(delay, bool) else None
        message = f"Claude's API is limiting requests ({data.get('error') or 'rate_limit'}); retry after the wait given"
        return Failure(status=429, kind="rate_limit", message=message, retry_after=seconds)

    def of(self, result: sdk.ResultMessage) -> Failure:
        """Structured facts of a failed result."""
        text = result.result or "; ".join(result.errors or []) or f"Claude Code failed ({result.subtype})"
        retry_after = None if self._retry_at is None else max(0.0, self._retry_at - self._clock())
        return Failure(
            status=result.api_error_status,
            kind=self._kind,
            message=text,
            retry_after=retry_after,
            context_exceeded=result.terminal_reason in CONTEXT_EXCEEDED_REASONS,
            # An API error with no HTTP status: the API could not be reached or
            # broke off (connection refused, reset, DNS) -> a bad gateway.
            api_unreachable=result.terminal_reason == "api_error" and result.api_error_status is None,
        )
