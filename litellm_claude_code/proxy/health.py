"""LiteLLM's health probes, answered without starting Claude Code.

The proxy's ``/health`` (and background health checks) send a completion to
every deployment. For us that would start a Claude Code process per model and
spend the subscription on "ping" messages. A probe is instead answered from
what can be checked locally: the Claude Code binary exists and a login is
present for the deployment (a token, an API key where asked for, or stored
credentials in its config directory).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices

from .. import quota
from ..errors import LOGIN_HINT, Failed, Failure

if TYPE_CHECKING:
    from litellm.types.utils import ModelResponse

    from ..request import ChatRequest

# LiteLLM tags its probes with this name (litellm.constants
# LITTELM_INTERNAL_HEALTH_SERVICE_ACCOUNT_NAME) as both a request tag and the
# probe's team id. The proxy overwrites ``user_api_key_team_id`` from the
# authenticated key on every real request, so a caller cannot pose as a probe
# by sending the tag in its body.
PROBE_ACCOUNT = "litellm-internal-health-check"
_METADATA_KEYS = ("metadata", "litellm_metadata")


def _probe_metadata(litellm_params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    for key in _METADATA_KEYS:
        metadata = (litellm_params or {}).get(key)
        if isinstance(metadata, Mapping) and metadata.get("user_api_key_team_id") == PROBE_ACCOUNT:
            return metadata
    return None


def is_health_probe(litellm_params: Mapping[str, Any] | None) -> bool:
    """Whether this call is LiteLLM's own health check, not a caller's request."""
    metadata = _probe_metadata(litellm_params)
    tags = metadata.get("tags") if metadata is not None else None
    return isinstance(tags, list) and PROBE_ACCOUNT in tags


def login_problem(
    auth: str, env: Mapping[str, str], config_dir: str, keychain: bool = sys.platform == "darwin"
) -> str | None:
    """Why this deployment cannot log in, or ``None`` when a login is present (or may be).

    On macOS Claude Code keeps its login in the Keychain, which cannot be read
    without it: there only a missing API key is reported.
    """
    if auth == "api_key":
        return None if env.get("ANTHROPIC_API_KEY") else "auth: api_key is configured but no API key is set"
    if env.get("CLAUDE_CODE_OAUTH_TOKEN") or keychain:
        return None
    if (Path(config_dir) / ".credentials.json").is_file():
        return None
    return LOGIN_HINT


def binary_problem(cli_path: str | None, bundled: Path) -> str | None:
    """Why the Claude Code binary cannot run, or ``None``.

    Without ``cli_path`` the SDK runs its bundled CLI, else ``claude`` on PATH.
    """
    candidates = [cli_path] if cli_path else [str(bundled), "claude"]
    if any(shutil.which(candidate) for candidate in candidates):
        return None
    return f"Claude Code binary not found or not executable: {candidates[0]}"


def probe_chunks(model: str) -> list[ModelResponseStream]:
    """A healthy probe's answer: empty, stopped, no tokens spent."""
    choice = StreamingChoices(index=0, delta=Delta(content=""), finish_reason="stop")
    return [ModelResponseStream(model=model, choices=[choice])]


def probe(request: ChatRequest, bundled: Path) -> list[ModelResponseStream]:
    """LiteLLM's health check: answered locally, no Claude Code process started."""
    settings = request.settings
    problem = binary_problem(settings.cli_path, bundled)
    if problem:
        raise Failed(Failure(status=503, message=problem))
    problem = login_problem(settings.auth, request.env, request.config_dir)
    if problem:
        raise Failed(Failure(status=401, message=problem))
    return probe_chunks(request.model)


def show_room(response: ModelResponse, latest: quota.Quota | None, pool: list[tuple[str, quota.Quota]]) -> None:
    """/health shows a probe's x-ratelimit-remaining-* headers: there, the account's room left (issue 12).

    LiteLLM's probes carry no deployment id and no ``model_info``: the account
    is the one their settings name, and the model's latest report is shown.
    When that account has not reported (a pool of accounts configured in
    ``model_info``), every account of the model is shown, by deployment id
    (issue 20), so an account on extra usage is seen there.
    """
    room = quota.remaining(latest)
    if room is None and pool:
        room = "; ".join(f"{deployment}: {quota.remaining(each)}" for deployment, each in pool)
    if room:
        response._hidden_params["headers"] = {"x-ratelimit-remaining-requests": room}
