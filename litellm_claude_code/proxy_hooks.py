"""LiteLLM proxy hooks for Claude Code deployments."""

from __future__ import annotations

from typing import Any

from litellm.constants import RETURN_RAW_MODEL_NAME_METADATA_KEY
from litellm.integrations.custom_logger import CustomLogger


class ServedModelName(CustomLogger):
    """Let responses name the model that actually answered.

    The proxy rewrites a response's ``model`` to the name the client asked for
    (``sonnet``) unless the request's metadata carries LiteLLM's raw-model-name
    flag; our users asked to see the model Claude Code really used
    (``claude-sonnet-4-5-...``, or the account default behind ``default``).
    """

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> dict:
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            data["metadata"] = metadata
        metadata[RETURN_RAW_MODEL_NAME_METADATA_KEY] = True
        return data
