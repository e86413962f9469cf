"""The failure table: every status and kind maps to the right LiteLLM exception."""

from __future__ import annotations

import inspect

import claude_agent_sdk as sdk
import claude_agent_sdk._errors as sdk_errors
import litellm
import pytest

from litellm_claude_code import errors
from litellm_claude_code.errors import Failure


@pytest.mark.parametrize(
    ("failure", "exception", "status"),
    [
        (Failure(status=400, message="bad"), litellm.BadRequestError, 400),
        (Failure(status=401, message="no"), litellm.AuthenticationError, 401),
        (Failure(status=403, message="no"), litellm.PermissionDeniedError, 403),
        (Failure(status=404, message="model?"), litellm.NotFoundError, 404),
        (Failure(status=408, message="slow"), litellm.Timeout, 408),
        (Failure(status=429, message="slow down"), litellm.RateLimitError, 429),
        (Failure(status=500, message="oops"), litellm.InternalServerError, 500),
        (Failure(status=502, message="gw"), litellm.BadGatewayError, 502),
        (Failure(status=503, message="down"), litellm.ServiceUnavailableError, 503),
        (Failure(status=529, message="overloaded"), litellm.ServiceUnavailableError, 503),
        (Failure(status=418, message="teapot"), litellm.BadRequestError, 400),
        (Failure(status=599, message="odd"), litellm.InternalServerError, 500),
        (Failure(kind="authentication_failed", message="Not logged in"), litellm.AuthenticationError, 401),
        (Failure(kind="rate_limit", message="limit"), litellm.RateLimitError, 429),
        (Failure(kind="invalid_request", message="bad"), litellm.BadRequestError, 400),
        (Failure(kind="server_error", message="oops"), litellm.InternalServerError, 500),
        (Failure(kind="billing_error", message="pay"), litellm.PermissionDeniedError, 403),
        (Failure(kind=None, message="?"), litellm.InternalServerError, 500),
        (Failure(status=400, context_exceeded=True, message="long"), litellm.ContextWindowExceededError, 400),
        (Failure(kind="unknown", api_unreachable=True, message="ECONNREFUSED"), litellm.BadGatewayError, 502),
        (Failure(kind="server_error", api_unreachable=True, message="ECONNREFUSED"), litellm.BadGatewayError, 502),
        (
            Failure(kind="authentication_failed", api_unreachable=True, message="Not logged in"),
            litellm.AuthenticationError,
            401,
        ),
    ],
)
def test_failure_maps_to_exception(failure: Failure, exception: type, status: int) -> None:
    error = errors.to_exception(failure, "sonnet")
    assert type(error) is exception
    assert error.status_code == status  # type: ignore[attr-defined]  # LiteLLM's exceptions all carry status_code


def test_rate_limit_carries_retry_after_rounded_up() -> None:
    error = errors.to_exception(Failure(status=429, message="x", retry_after=6.2), "sonnet")
    assert error.headers == {"retry-after": "7"}  # type: ignore[attr-defined]  # a RateLimitError carries headers


def test_rate_limit_without_retry_after_has_no_header() -> None:
    error = errors.to_exception(Failure(status=429, message="x"), "sonnet")
    assert not error.headers  # type: ignore[attr-defined]  # a RateLimitError carries headers


def test_not_logged_in_says_how_to_log_in() -> None:
    error = errors.to_exception(Failure(kind="authentication_failed", message="Not logged in"), "sonnet")
    assert "claude setup-token" in str(error)
    assert "authenticate-claude.sh" in str(error)


def _sdk_exception_classes() -> list[type[BaseException]]:
    classes = {
        obj
        for module in (sdk, sdk_errors)
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Exception) and not issubclass(obj, Warning)
    }
    return [cls for cls in classes if cls.__module__.startswith("claude_agent_sdk")]


def test_every_sdk_exception_class_is_in_the_table() -> None:
    # Like httpx's exception-map test: a new SDK error class must be mapped on purpose.
    mapped = {cls for cls, _ in errors.SDK_EXCEPTION_STATUS}
    missing = [cls.__name__ for cls in _sdk_exception_classes() if cls not in mapped]
    assert missing == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (sdk.CLINotFoundError("Claude Code not found", "/nope/claude"), 503),
        (sdk.CLIConnectionError("closed"), 503),
        (sdk.ProcessError("crashed", exit_code=137), 502),
        (sdk.CLIJSONDecodeError("{", ValueError("x")), 502),
        (sdk_errors.MessageParseError("bad message"), 502),
        (sdk.ResultError("failed", {"subtype": "error_during_execution"}), 500),
        (sdk.ClaudeSDKError("?"), 500),
    ],
)
def test_sdk_exceptions_map_to_status(error: BaseException, status: int) -> None:
    exception = errors.to_exception(errors.of_sdk_exception(error), "sonnet")
    assert exception.status_code == status  # type: ignore[attr-defined]  # LiteLLM's exceptions all carry status_code


def test_result_error_with_api_status_uses_it() -> None:
    error = sdk.ResultError("API Error", {"api_error_status": 429, "subtype": "success"})
    assert type(errors.to_exception(errors.of_sdk_exception(error), "sonnet")) is litellm.RateLimitError


def test_the_third_party_extra_usage_400_says_what_happened() -> None:
    upstream = (
        'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"Third-party apps now'
        ' draw from your extra usage, not your plan limits. Add more at claude.ai/settings/usage and keep going."}}'
    )
    error = errors.to_exception(Failure(status=400, message=upstream), "sonnet")
    assert isinstance(error, litellm.BadRequestError)
    assert "billed this request as a third-party app's use of the subscription" in str(error)
    assert upstream in str(error)  # upstream's own words are kept
    other = errors.to_exception(Failure(status=400, message="messages: field required"), "sonnet")
    assert "third-party" not in str(other)


def test_a_conversation_too_long_carries_openais_code() -> None:
    error = errors.to_exception(Failure(status=400, context_exceeded=True, message="Prompt is too long"), "sonnet")
    assert isinstance(error, litellm.ContextWindowExceededError)
    assert error.code == "context_length_exceeded"
    other = errors.to_exception(Failure(status=400, message="bad"), "sonnet")
    assert isinstance(other, litellm.BadRequestError)
    assert other.code != "context_length_exceeded"
