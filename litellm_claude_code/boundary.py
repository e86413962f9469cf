"""The provider's one error boundary: every internal failure becomes a LiteLLM exception here.

Like httpx's ``map_httpcore_exceptions``: code inside the provider raises its
own failure types (bad settings, parameters or messages, a full session cap, a
passed deadline, the SDK's exceptions, ``errors.Failed`` for failures gathered
from Claude Code's messages), and the provider's entry points map them once, at
the edge, from the exception's type and structured fields; messages are carried
for people to read, never parsed. ``errors`` holds the status -> class table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import claude_agent_sdk as sdk

from .errors import Failed, Failure, of_sdk_exception, to_exception
from .runtime.limits import Busy
from .runtime.runner import QueryTimeout
from .settings import SettingsError
from .translate.images import ImageError
from .translate.params import ParamError
from .translate.prompt import PromptError
from .translate.tools import ToolError


def failure_of(error: Exception) -> Failure | None:
    """The failure an internal exception stands for; None for anything not ours (passed on as it is)."""
    if isinstance(error, Failed):
        return error.failure
    if isinstance(error, (ParamError, PromptError, ToolError, ImageError)):  # the caller's request
        return Failure(status=400, message=str(error))
    if isinstance(error, SettingsError):  # the deployment's config, not the caller's request
        return Failure(status=500, message=str(error))
    if isinstance(error, Busy):
        return Failure(status=429, message=str(error), retry_after=error.retry_after)
    if isinstance(error, QueryTimeout):  # the request's own deadline (LiteLLM leaves it to custom providers)
        return Failure(status=408, message=f"Claude Code did not finish within {error.seconds:g}s")
    if isinstance(error, sdk.ClaudeSDKError):
        return of_sdk_exception(error)
    return None


@contextmanager
def mapped(model: str) -> Iterator[None]:
    """Raise every internal failure inside the block as the LiteLLM exception for it."""
    try:
        yield
    except Exception as error:
        failure = failure_of(error)
        if failure is None:
            raise
        raise to_exception(failure, model) from error
