"""Spend priced at the model that actually answered, so keys' budgets count.

Claude Code's aliases (``sonnet``, ``default``) resolve to whatever model is
current, and that model is what a request really used. LiteLLM prices a
response at ``litellm_params.base_model`` first; without one, a custom
provider's deployment (``claude-code/sonnet``) has no price and every request
would be free against a key's budget. So, once the answer names its model, the
provider sets that model as the call's ``base_model`` on LiteLLM's logging
object, unless the deployment chose its own pricing (``model_info.base_model``
or per-token prices). A subscription is not billed per token: these figures are
a list-price equivalent (docs/keys-and-spend.md, "Spend on a subscription").

Web searches (issue 23) are priced by ``price_searches``: LiteLLM prices a
response's built-in tools under the request's provider (``claude-code``),
where it finds no search price, so the provider adds them itself as the call's
``additional_response_cost`` (LiteLLM adds it to the cost it works out, in
every figure: the response's ``usage.cost``, its cost header, spend).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import litellm
from litellm.llms.anthropic.cost_calculation import get_cost_for_anthropic_web_search
from litellm.types.utils import Usage

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


def _priced_model(answered_by: str | None, litellm_params: Mapping[str, Any] | None) -> str | None:
    """The model whose price map entry prices the call: the deployment's ``base_model``, else the answering one."""
    params = litellm_params or {}
    model_info = params.get("model_info")
    configured = model_info.get("base_model") if isinstance(model_info, Mapping) else None
    chosen = configured or params.get("base_model") or answered_by
    return chosen if isinstance(chosen, str) and chosen else None


def price_searches(
    answered_by: str | None, usage: Usage | None, litellm_params: Mapping[str, Any] | None, logging_obj: Any
) -> float:
    """Add the answer's web searches to the call's cost at Anthropic's list price per search; that cost.

    The price per search is the priced model's ``search_context_cost_per_query``
    in LiteLLM's price map (Anthropic's $10 per 1,000 searches), counted from
    ``usage.server_tool_use.web_search_requests`` by LiteLLM's own Anthropic
    helper. A model missing from the price map prices its searches at 0, as its
    tokens. Per-token prices a deployment sets cover tokens, not searches.
    """
    model = _priced_model(answered_by, litellm_params)
    details = getattr(logging_obj, "model_call_details", None)
    if usage is None or model is None or not isinstance(details, dict):
        return 0.0
    try:
        model_info = litellm.get_model_info(model=model, custom_llm_provider="anthropic")
    except Exception:  # LiteLLM raises a bare Exception for a model it does not map
        return 0.0
    cost = get_cost_for_anthropic_web_search(model_info=model_info, usage=usage)
    if cost > 0:
        details["additional_response_cost"] = cost
    return cost
