"""Start-up validation of the proxy config's Claude Code deployments."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..environment import cli_environment, config_dir
from ..settings import SETTINGS_KEY, DeploymentSettings, SettingsError, parse_settings

PROVIDER_PREFIX = "claude-code/"


def config_path_from_argv(argv: Sequence[str]) -> str | None:
    """The ``--config`` file the proxy was started with, if any."""
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return os.environ.get("CONFIG_FILE_PATH")


def _deployments(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = config.get("model_list") or []
    return [e for e in entries if isinstance(e, Mapping)]


def _is_ours(entry: Mapping[str, Any]) -> bool:
    model = (entry.get("litellm_params") or {}).get("model", "")
    return isinstance(model, str) and model.startswith(PROVIDER_PREFIX)


def validate_config(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> int:
    """Check every Claude Code deployment; the number checked.

    With ``environ`` (the proxy's environment) the deployments' logins are checked too
    (``check_stored_logins``).
    """
    checked: list[tuple[str, DeploymentSettings]] = []
    for entry in filter(_is_ours, _deployments(config)):
        model_info = entry.get("model_info") or {}
        try:
            checked.append((str(entry.get("model_name")), parse_settings(model_info.get(SETTINGS_KEY))))
        except SettingsError as error:
            raise SettingsError(f"deployment {entry.get('model_name')!r}: {error}") from None
    if environ is not None:
        check_stored_logins(checked, environ)
    return len(checked)


def refreshable_login(directory: Path) -> bool:
    """The Claude config directory holds a stored ``claude login`` with a refresh token."""
    try:
        stored = json.loads((directory / ".credentials.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    oauth = stored.get("claudeAiOauth") if isinstance(stored, dict) else None
    return isinstance(oauth, dict) and bool(oauth.get("refreshToken"))


def check_stored_logins(deployments: Sequence[tuple[str, DeploymentSettings]], environ: Mapping[str, str]) -> None:
    """Refuse to start when several Claude Code processes would share one refreshable stored login (issue 20).

    A ``claude login`` keeps a single-use refresh token in the config directory.
    Every Claude Code process on that directory refreshes it when the access
    token expires; two doing so at once can leave the loser with wiped
    credentials, the account logged out. The pinned CLI's host-refresh hooks
    (``CLAUDE_CODE_SDK_HAS_OAUTH_REFRESH``) are only honoured for Anthropic's own
    SDK hosts (its ``CLAUDE_CODE_ENTRYPOINT`` allowlist), so the provider cannot
    refresh once for all of them. A token from ``claude setup-token`` has no
    refresh token and is safe for any number of processes. Deployments on a
    token (or an API key) are not concerned; a login the proxy cannot read (the
    macOS Keychain) is not seen here.
    """
    sharing: dict[str, list[tuple[str, DeploymentSettings]]] = defaultdict(list)
    for name, settings in deployments:
        if settings.auth != "oauth" or environ.get(settings.oauth_token_env):
            continue
        sharing[config_dir(cli_environment(settings, environ), environ)].append((name, settings))
    for directory, members in sharing.items():
        # Kept processes (pool_size) start, and may refresh, beside those answering (max_concurrent).
        at_once = sum(settings.max_concurrent + settings.pool_size for _, settings in members)
        if at_once > 1 and refreshable_login(Path(directory)):
            names = sorted({name for name, _ in members})
            raise SettingsError(
                f"deployment(s) {names} would run up to {at_once} Claude Code processes at once on the stored"
                f" `claude login` in {directory}, whose refresh token is single-use: processes refreshing it"
                " together can log the account out. Use a token from `claude setup-token` instead (in"
                " CLAUDE_CODE_OAUTH_TOKEN or the deployment's model_info.claude_code.oauth_token_env), or give"
                " that login a single deployment with pool_size: 0 and max_concurrent: 1"
            )


def validate_startup_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Validate the config file named on the command line, when there is one, against the proxy's environment."""
    path = config_path_from_argv(argv)
    if not path or not Path(path).is_file():
        return 0
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return validate_config(config, os.environ if environ is None else environ)
