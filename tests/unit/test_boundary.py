"""The provider's one error boundary: each internal failure type leaves as its LiteLLM exception."""

from __future__ import annotations

import ast
from pathlib import Path

import claude_agent_sdk as sdk
import litellm
import pytest

from litellm_claude_code import boundary
from litellm_claude_code.errors import Failed, Failure
from litellm_claude_code.runtime.limits import Busy
from litellm_claude_code.runtime.runner import QueryTimeout
from litellm_claude_code.settings import SettingsError
from litellm_claude_code.translate.images import ImageError
from litellm_claude_code.translate.params import ParamError
from litellm_claude_code.translate.prompt import PromptError
from litellm_claude_code.translate.tools import ToolError

ROOT = Path(__file__).resolve().parents[2]


def _raised(error: Exception) -> BaseException:
    try:
        with boundary.mapped("sonnet"):
            raise error
    except Exception as raised:
        return raised
    raise AssertionError("the boundary swallowed the error")


@pytest.mark.parametrize(
    ("error", "exception", "status"),
    [
        (ParamError("max_tokens must be a positive integer"), litellm.BadRequestError, 400),
        (PromptError("the last user message is empty"), litellm.BadRequestError, 400),
        (ToolError("tools[0].function is missing"), litellm.BadRequestError, 400),
        (ImageError("messages[0]: the image data is empty"), litellm.BadRequestError, 400),
        (SettingsError("unknown key(s) ['x']"), litellm.InternalServerError, 500),
        (Busy("all 2 sessions are busy", retry_after=3.2), litellm.RateLimitError, 429),
        (QueryTimeout(30.0), litellm.Timeout, 408),
        (Failed(Failure(status=529, message="overloaded")), litellm.ServiceUnavailableError, 503),
        (Failed(Failure(kind="authentication_failed", message="Not logged in")), litellm.AuthenticationError, 401),
        (sdk.CLINotFoundError("Claude Code not found", "/nope/claude"), litellm.ServiceUnavailableError, 503),
        (sdk.ProcessError("crashed", exit_code=137), litellm.BadGatewayError, 502),
    ],
)
def test_internal_failure_leaves_as_its_litellm_exception(error: Exception, exception: type, status: int) -> None:
    raised = _raised(error)
    assert type(raised) is exception
    assert raised.status_code == status  # type: ignore[attr-defined]  # LiteLLM's exceptions all carry status_code
    assert raised.__cause__ is error  # the internal failure stays visible in the traceback


def test_the_message_is_carried_for_people() -> None:
    assert "max_tokens must be a positive integer" in str(_raised(ParamError("max_tokens must be a positive integer")))
    assert "within 30s" in str(_raised(QueryTimeout(30.0)))


def test_busy_tells_when_to_retry() -> None:
    assert _raised(Busy("busy", retry_after=3.2)).headers == {"retry-after": "4"}  # type: ignore[attr-defined]  # a RateLimitError carries headers


def test_anything_else_passes_unchanged() -> None:
    error = KeyError("not ours")
    assert _raised(error) is error
    already = litellm.BadRequestError(message="x", model="sonnet", llm_provider="claude-code")
    assert _raised(already) is already


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                names.add(f"{func.value.id}.{func.attr}")
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def test_litellm_exceptions_are_made_in_one_place() -> None:
    # Issue 14: one boundary at the provider's edge. Only errors.to_exception builds
    # LiteLLM exceptions, and only the boundary calls it.
    exception_names = {name for name in dir(litellm) if name.endswith(("Error", "Timeout"))}
    sources = [
        ROOT / "claude_code_provider.py",
        ROOT / "custom_handler.py",
        *(ROOT / "litellm_claude_code").rglob("*.py"),
    ]
    offenders = []
    for path in sources:
        relative = path.relative_to(ROOT).as_posix()
        calls = _calls(path)
        made = {c for c in calls if c.startswith("litellm.") and c.split(".", 1)[1] in exception_names}
        if made and relative != "litellm_claude_code/errors.py":
            offenders.append((relative, sorted(made)))
        if {"to_exception", "errors.to_exception"} & calls and relative != "litellm_claude_code/boundary.py":
            offenders.append((relative, ["to_exception"]))
    assert offenders == []
