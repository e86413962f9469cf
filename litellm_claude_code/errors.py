"""One table from Claude Code failures to LiteLLM exceptions (and so HTTP status).

The facts come from structured fields only: ``ResultMessage.api_error_status``,
the ``AssistantMessage.error`` kind and the SDK's exception classes. Messages are
carried to the client for humans to read, never parsed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import claude_agent_sdk as sdk
import httpx
from litellm import exceptions as llm

from .sdk_seam import MessageParseError

PROVIDER = "claude-code"

LOGIN_HINT = (
    "Claude Code is not logged in. Set CLAUDE_CODE_OAUTH_TOKEN to a token from "
    "`claude setup-token`, or run scripts/authenticate-claude.sh to log in."
)


@dataclass(frozen=True)
class Failure:
    """What went wrong, as structured facts gathered from the SDK's messages."""

    status: int | None = None  # upstream HTTP status, when the API answered
    kind: str | None = None  # AssistantMessage.error literal
    message: str = ""
    retry_after: float | None = None  # seconds, from upstream rate-limit facts
    context_exceeded: bool = False
    api_unreachable: bool = False  # the API call failed without any HTTP answer


class Failed(Exception):
    """A failure raised inside the provider (translation, checks); the provider's edge maps it."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _response(status: int) -> httpx.Response:
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
    return httpx.Response(status, request=request)


# Upstream HTTP status -> exception. 529 is Anthropic's "overloaded": clients and
# LiteLLM's router understand 503 for that. Unlisted 4xx -> 400, 5xx -> 500.
STATUS_TABLE: dict[int, type[Exception]] = {
    400: llm.BadRequestError,
    401: llm.AuthenticationError,
    402: llm.PermissionDeniedError,
    403: llm.PermissionDeniedError,
    404: llm.NotFoundError,
    408: llm.Timeout,
    413: llm.BadRequestError,
    429: llm.RateLimitError,
    500: llm.InternalServerError,
    502: llm.BadGatewayError,
    503: llm.ServiceUnavailableError,
    504: llm.Timeout,
    529: llm.ServiceUnavailableError,
}

# AssistantMessage.error kind -> the status it stands for, used when the API gave
# no status (for example "Not logged in" is decided by the CLI before any call).
KIND_STATUS: dict[str, int] = {
    "authentication_failed": 401,
    "billing_error": 402,
    "rate_limit": 429,
    "invalid_request": 400,
    "server_error": 500,
    "unknown": 500,
}

# SDK exception class -> status. Checked in order, so subclasses come first; a
# test fails when the SDK grows an exception class that is missing here.
SDK_EXCEPTION_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (sdk.CLINotFoundError, 503),
    (sdk.CLIConnectionError, 503),
    (sdk.CLIJSONDecodeError, 502),
    (MessageParseError, 502),
    (sdk.ResultError, 500),
    (sdk.ProcessError, 502),
    (sdk.ClaudeSDKError, 500),
)


def status_for(failure: Failure) -> int:
    """The HTTP status a failure is reported with."""
    if failure.context_exceeded:
        return 400
    if failure.status is not None:
        return failure.status
    if failure.api_unreachable and failure.kind in (None, "unknown", "server_error"):
        return 502  # no HTTP answer from the API at all
    return KIND_STATUS.get(failure.kind or "unknown", 500)  # e.g. not logged in: decided before any API call


def exception_class(failure: Failure) -> type[Exception]:
    """The LiteLLM exception class a failure is raised as."""
    if failure.context_exceeded:
        return llm.ContextWindowExceededError
    status = status_for(failure)
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    return llm.BadRequestError if 400 <= status < 500 else llm.InternalServerError


CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


def _headers(failure: Failure) -> dict[str, str]:
    if failure.retry_after is None:
        return {}
    return {"retry-after": str(max(0, math.ceil(failure.retry_after)))}


# The API's 400 for a request it bills as a third-party app's use of a subscription ("Third-party apps
# now draw from your extra usage, not your plan limits ..."). It is an invalid_request_error like any
# other, with no structured field of its own: its wording is the one fact that tells it apart, so
# this is the one message read here (issue 20), and only to explain it, never to change its status.
THIRD_PARTY_MARKERS = ("third-party apps", "extra usage")
THIRD_PARTY_EXPLANATION = (
    "Claude's API billed this request as a third-party app's use of the subscription, which draws from"
    " the account's paid extra usage instead of its plan limits, and refused it: the account has no extra"
    " usage for it. This is the API's decision about the request (often its tools or system prompt), not a"
    " usage limit of the plan; retrying it unchanged gets the same answer."
)


def is_third_party_extra_usage(failure: Failure) -> bool:
    text = failure.message.lower()
    return failure.status == 400 and all(marker in text for marker in THIRD_PARTY_MARKERS)


def _describe(failure: Failure) -> str:
    if failure.kind == "authentication_failed" and failure.status is None:
        return f"{LOGIN_HINT} (Claude Code said: {failure.message})"
    if is_third_party_extra_usage(failure):
        return f"{THIRD_PARTY_EXPLANATION} (Claude's API said: {failure.message})"
    return failure.message or f"Claude Code failed ({failure.kind or 'unknown error'})"


def to_exception(failure: Failure, model: str) -> Exception:
    """The LiteLLM exception for a failure, with Retry-After where known."""
    cls = exception_class(failure)
    fields: dict[str, Any] = {"message": _describe(failure), "model": model, "llm_provider": PROVIDER}
    if cls is llm.PermissionDeniedError:
        fields["response"] = _response(403)  # its constructor requires one
    headers = _headers(failure)
    if headers and cls is llm.RateLimitError:
        fields["headers"] = headers
    error = cls(**fields)
    if isinstance(error, llm.ContextWindowExceededError):
        # OpenAI's code for a conversation too long for the model: what clients act on (Codex
        # compacts on it), carried by LiteLLM into a streamed /v1/responses response.failed.
        error.code = CONTEXT_LENGTH_EXCEEDED
    return error


def status_of_sdk_exception(error: BaseException) -> int:
    """Status for an SDK exception raised without a result we could read."""
    for cls, status in SDK_EXCEPTION_STATUS:
        if isinstance(error, cls):
            return status
    return 500


def of_sdk_exception(error: BaseException) -> Failure:
    """The failure an exception raised by the SDK stands for (missing binary, crash, bad output)."""
    if isinstance(error, sdk.ResultError) and error.api_error_status is not None:
        return Failure(status=error.api_error_status, message=str(error))
    message = f"Claude Code failed: {type(error).__name__}: {error}"
    return Failure(status=status_of_sdk_exception(error), message=message)
