"""Per-deployment Claude Code settings, read only from the deployment config.

LiteLLM copies unknown request-body keys into ``optional_params``, so nothing a
caller sends may choose a working directory, tools, an environment or a binary.
These settings live under ``model_info.claude_code`` in the proxy config, which
the router fills from the deployment, never from the request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

SETTINGS_KEY = "claude_code"
DEFAULT_MODEL_ALIAS = "default"  # the account's default model: pass no --model
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
EXTRA_USAGE = ("refuse", "allow")


class SettingsError(ValueError):
    """A deployment's ``model_info.claude_code`` block is invalid."""


@dataclass(frozen=True)
class DeploymentSettings:
    """How one deployment (one Claude account) runs Claude Code."""

    auth: str = "oauth"  # "oauth" or "api_key" (explicit opt-in)
    oauth_token_env: str = "CLAUDE_CODE_OAUTH_TOKEN"
    api_key_env: str = "ANTHROPIC_API_KEY"
    config_dir: str | None = None  # CLAUDE_CONFIG_DIR for this account
    base_url: str | None = None  # ANTHROPIC_BASE_URL override for this account
    cli_path: str | None = None
    max_retries: int = 1  # CLAUDE_CODE_MAX_RETRIES; the router retries across deployments
    timeout: float = 600.0  # seconds, when the request gives none
    default_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    work_root: str | None = None  # where per-request empty working directories are made
    pool_size: int = 2  # idle (ready or live) sessions kept for this deployment; 0 = always cold
    idle_timeout: float = 300.0  # seconds an idle session is kept
    max_concurrent: int = 8  # Claude Code sessions answering at once for this deployment
    max_queue: int = 32  # requests waiting for a session; past it: 429
    queue_timeout: float = 30.0  # seconds a request may wait for a session; past it: 429
    # Paid extra usage past the plan limits (issue 20): "refuse" sends nothing to an account while it
    # answers from extra usage; "allow" lets it serve, after the accounts still within their plan.
    extra_usage: str = "refuse"
    # Utilization (0-1, either usage window) past which an account gets new conversations only
    # when no other account of the model has room.
    warning_threshold: float = 0.8


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "auth": (str,),
    "oauth_token_env": (str,),
    "api_key_env": (str,),
    "config_dir": (str,),
    "base_url": (str,),
    "cli_path": (str,),
    "max_retries": (int,),
    "timeout": (int, float),
    "default_system_prompt": (str,),
    "work_root": (str,),
    "pool_size": (int,),
    "idle_timeout": (int, float),
    "max_concurrent": (int,),
    "max_queue": (int,),
    "queue_timeout": (int, float),
    "extra_usage": (str,),
    "warning_threshold": (int, float),
}


def _check_types(raw: Mapping[str, Any]) -> None:
    known = {f.name for f in fields(DeploymentSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"unknown key(s) {unknown} in model_info.{SETTINGS_KEY}; allowed: {sorted(known)}")
    for key, value in raw.items():
        if value is None or isinstance(value, bool):
            if value is None:
                continue
            raise SettingsError(f"model_info.{SETTINGS_KEY}.{key} must not be a boolean")
        if not isinstance(value, _FIELD_TYPES[key]):
            expected = " or ".join(t.__name__ for t in _FIELD_TYPES[key])
            raise SettingsError(f"model_info.{SETTINGS_KEY}.{key} must be {expected}, got {value!r}")


def _check_values(settings: DeploymentSettings) -> None:
    if settings.auth not in ("oauth", "api_key"):
        raise SettingsError(f"model_info.{SETTINGS_KEY}.auth must be 'oauth' or 'api_key', got {settings.auth!r}")
    if not 0 <= settings.max_retries <= 10:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.max_retries must be between 0 and 10")
    if not 0 <= settings.pool_size <= 64:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.pool_size must be between 0 and 64")
    if settings.max_concurrent < 1 or settings.max_queue < 0:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.max_concurrent must be >= 1 and max_queue >= 0")
    if settings.queue_timeout <= 0:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.queue_timeout must be positive")
    if settings.idle_timeout <= 0:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.idle_timeout must be positive")
    if settings.timeout <= 0:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.timeout must be positive")
    if settings.extra_usage not in EXTRA_USAGE:
        raise SettingsError(
            f"model_info.{SETTINGS_KEY}.extra_usage must be 'refuse' or 'allow', got {settings.extra_usage!r}"
        )
    if not 0 < settings.warning_threshold <= 1:
        raise SettingsError(f"model_info.{SETTINGS_KEY}.warning_threshold must be above 0 and at most 1")
    if not settings.default_system_prompt.strip():
        raise SettingsError(f"model_info.{SETTINGS_KEY}.default_system_prompt must not be empty")


def parse_settings(raw: object) -> DeploymentSettings:
    """Validate a ``model_info.claude_code`` block (``None`` means all defaults)."""
    if raw is None:
        return DeploymentSettings()
    if not isinstance(raw, Mapping):
        raise SettingsError(f"model_info.{SETTINGS_KEY} must be a mapping, got {type(raw).__name__}")
    _check_types(raw)
    settings = DeploymentSettings(**{k: v for k, v in raw.items() if v is not None})
    _check_values(settings)
    return settings


def settings_from_litellm_params(litellm_params: Mapping[str, Any] | None) -> DeploymentSettings:
    """The settings of the deployment a request was routed to."""
    model_info = (litellm_params or {}).get("model_info") or {}
    if not isinstance(model_info, Mapping):
        return DeploymentSettings()
    return parse_settings(model_info.get(SETTINGS_KEY))


def deployment_id(litellm_params: Mapping[str, Any] | None, model: str) -> str:
    """The router's id of the deployment (its model name outside the router)."""
    model_info = (litellm_params or {}).get("model_info") or {}
    identity = model_info.get("id") if isinstance(model_info, Mapping) else None
    return str(identity or model)


def expand(path: str) -> Path:
    """A configured path with ``~`` and environment variables expanded."""
    return Path(os.path.expandvars(os.path.expanduser(path)))
