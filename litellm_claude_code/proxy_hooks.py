"""LiteLLM proxy hooks for Claude Code deployments."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from litellm.constants import RETURN_RAW_MODEL_NAME_METADATA_KEY
from litellm.integrations.custom_logger import CustomLogger

from .prompt import PromptError, check_shapes


class ProxyHooks(CustomLogger):
    """Proxy hooks for Claude Code deployments.

    Malformed chat messages are refused with a 400 before LiteLLM's own
    pre-processing (see _refuse_malformed). And responses name the model that
    actually answered: the proxy rewrites a response's ``model`` to the name the client asked for
    (``sonnet``) unless the request's metadata carries LiteLLM's raw-model-name
    flag; our users asked to see the model Claude Code really used
    (``claude-sonnet-4-5-...``, or the account default behind ``default``).
    """

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> dict:
        _refuse_malformed(data)
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            data["metadata"] = metadata
        metadata[RETURN_RAW_MODEL_NAME_METADATA_KEY] = True
        return data


def _refuse_malformed(data: dict) -> None:
    """Chat messages of the wrong shape are a 400 naming the problem.

    Checked before LiteLLM's own pre-processing, which otherwise fails on some
    shapes (content that is a number, say) with a 500.
    """
    messages = data.get("messages")
    if messages is None:
        return  # not a chat request (embeddings, /v1/messages, ...): not ours to judge
    try:
        check_shapes(messages)
    except PromptError as error:
        raise HTTPException(status_code=400, detail={"error": f"invalid request: {error}"}) from None
