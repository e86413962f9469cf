"""Start-up validation of the proxy config's Claude Code deployments."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..settings import SETTINGS_KEY, SettingsError, parse_settings

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


def validate_config(config: Mapping[str, Any]) -> int:
    """Check every Claude Code deployment; the number checked."""
    checked = 0
    for entry in filter(_is_ours, _deployments(config)):
        model_info = entry.get("model_info") or {}
        try:
            parse_settings(model_info.get(SETTINGS_KEY))
        except SettingsError as error:
            raise SettingsError(f"deployment {entry.get('model_name')!r}: {error}") from None
        checked += 1
    return checked


def validate_startup_config(argv: Sequence[str]) -> int:
    """Validate the config file named on the command line, when there is one."""
    path = config_path_from_argv(argv)
    if not path or not Path(path).is_file():
        return 0
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return validate_config(config)
