"""Spend priced at the model that actually answered, so keys' budgets count.

Claude Code's aliases (``sonnet``, ``default``) resolve to whatever model is
current, and that model is what a request really used. LiteLLM prices a
response at ``litellm_params.base_model`` first; without one, a custom
provider's deployment (``claude-code/sonnet``) has no price and every request
would be free against a key's budget. So, once the answer names its model, the
provider sets that model as the call's ``base_model`` on LiteLLM's logging
object, unless the deployment chose its own pricing (``model_info.base_model``
or per-token prices). A subscription is not billed per token: these figures are
a list-price equivalent (README, "Spend on a subscription").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import litellm

# Per-token prices a deployment may set in litellm_params (LiteLLM custom pricing).
_PRICE_KEYS = ("input_cost_per_token", "output_cost_per_token", "input_cost_per_second", "output_cost_per_second")


def deployment_prices_itself(litellm_params: Mapping[str, Any] | None) -> bool:
    """Whether the deployment config fixes its own pricing."""
    params = litellm_params or {}
    model_info = params.get("model_info")
    if isinstance(model_info, Mapping) and model_info.get("base_model"):
        return True
    return bool(params.get("base_model")) or any(params.get(key) is not None for key in _PRICE_KEYS)


def price_as(answered_by: str | None, litellm_params: Mapping[str, Any] | None, logging_obj: Any) -> str | None:
    """Make LiteLLM price this call at the model that answered; the model chosen, if any."""
    if not answered_by or answered_by not in litellm.model_cost or deployment_prices_itself(litellm_params):
        return None
    details = getattr(logging_obj, "model_call_details", None)
    call_params = details.get("litellm_params") if isinstance(details, dict) else None
    if not isinstance(call_params, dict):
        return None
    call_params["base_model"] = answered_by
    return answered_by
