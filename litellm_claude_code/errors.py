"""One table from Claude Code failures to LiteLLM exceptions (and so HTTP status).

The facts come from structured fields only: ``ResultMessage.api_error_status``,
the ``AssistantMessage.error`` kind and the SDK's exception classes. Messages are
carried to the client for humans to read, never parsed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import claude_agent_sdk as sdk
import httpx
import litellm
from claude_agent_sdk._errors import MessageParseError  # raised by the SDK, not re-exported

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


ExceptionFactory = Callable[[str, str, dict[str, str]], Exception]


def _response(status: int) -> httpx.Response:
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
    return httpx.Response(status, request=request)


def _bad_request(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.BadRequestError(message=message, model=model, llm_provider=PROVIDER)


def _unauthorized(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.AuthenticationError(message=message, model=model, llm_provider=PROVIDER)


def _forbidden(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.PermissionDeniedError(message=message, model=model, llm_provider=PROVIDER, response=_response(403))


def _not_found(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.NotFoundError(message=message, model=model, llm_provider=PROVIDER)


def _timeout(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.Timeout(message=message, model=model, llm_provider=PROVIDER)


def _rate_limited(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.RateLimitError(message=message, model=model, llm_provider=PROVIDER, headers=headers or None)


def _context_exceeded(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.ContextWindowExceededError(message=message, model=model, llm_provider=PROVIDER)


def _internal(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.InternalServerError(message=message, model=model, llm_provider=PROVIDER)


def _bad_gateway(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.BadGatewayError(message=message, model=model, llm_provider=PROVIDER)


def _unavailable(message: str, model: str, headers: dict[str, str]) -> Exception:
    return litellm.ServiceUnavailableError(message=message, model=model, llm_provider=PROVIDER)


# Upstream HTTP status -> exception. 529 is Anthropic's "overloaded": clients and
# LiteLLM's router understand 503 for that. Unlisted 4xx -> 400, 5xx -> 500.
STATUS_TABLE: dict[int, ExceptionFactory] = {
    400: _bad_request,
    401: _unauthorized,
    402: _forbidden,
    403: _forbidden,
    404: _not_found,
    408: _timeout,
    413: _bad_request,
    429: _rate_limited,
    500: _internal,
    502: _bad_gateway,
    503: _unavailable,
    504: _timeout,
    529: _unavailable,
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


def _factory(failure: Failure) -> ExceptionFactory:
    if failure.context_exceeded:
        return _context_exceeded
    status = status_for(failure)
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    return _bad_request if 400 <= status < 500 else _internal


def _headers(failure: Failure) -> dict[str, str]:
    if failure.retry_after is None:
        return {}
    return {"retry-after": str(max(0, math.ceil(failure.retry_after)))}


def _describe(failure: Failure) -> str:
    if failure.kind == "authentication_failed" and failure.status is None:
        return f"{LOGIN_HINT} (Claude Code said: {failure.message})"
    return failure.message or f"Claude Code failed ({failure.kind or 'unknown error'})"


def to_exception(failure: Failure, model: str) -> Exception:
    """The LiteLLM exception for a failure, with Retry-After where known."""
    return _factory(failure)(_describe(failure), model, _headers(failure))


def status_of_sdk_exception(error: BaseException) -> int:
    """Status for an SDK exception raised without a result we could read."""
    for cls, status in SDK_EXCEPTION_STATUS:
        if isinstance(error, cls):
            return status
    return 500


def from_sdk_exception(error: BaseException, model: str) -> Exception:
    """Map an exception raised by the SDK (missing binary, crash, bad output)."""
    if isinstance(error, sdk.ResultError) and error.api_error_status is not None:
        return to_exception(Failure(status=error.api_error_status, message=str(error)), model)
    status = status_of_sdk_exception(error)
    message = f"Claude Code failed: {type(error).__name__}: {error}"
    return STATUS_TABLE.get(status, _internal)(message, model, {})


def timeout_error(seconds: float, model: str) -> Exception:
    """The request's own deadline passed (LiteLLM leaves this to custom providers)."""
    return _timeout(f"Claude Code did not finish within {seconds:g}s", model, {})


def bad_request(message: str, model: str) -> Exception:
    """A request we refuse before starting Claude Code."""
    return _bad_request(message, model, {})
