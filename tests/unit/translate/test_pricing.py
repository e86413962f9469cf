"""Spend priced at the model that answered, unless the deployment fixes its own pricing."""

from __future__ import annotations

from typing import Any

import litellm
import pytest
from litellm.types.utils import ServerToolUse, Usage

from litellm_claude_code.translate.pricing import deployment_prices_itself, price_as, price_searches

KNOWN = "claude-sonnet-4-5"  # in LiteLLM's bundled price map


class FakeLogging:
    def __init__(self) -> None:
        self.model_call_details: dict[str, Any] = {"litellm_params": {}}


@pytest.mark.parametrize(
    ("litellm_params", "expected"),
    [
        (None, False),
        ({"model_info": {"claude_code": {}}}, False),
        ({"model_info": {"base_model": "claude-opus-4-5"}}, True),
        ({"base_model": "claude-opus-4-5"}, True),
        ({"input_cost_per_token": 8e-7}, True),
        ({"output_cost_per_token": 0.0}, True),
        ({"model_info": "not a mapping"}, False),
    ],
)
def test_deployment_prices_itself(litellm_params: dict[str, Any] | None, expected: bool) -> None:
    assert deployment_prices_itself(litellm_params) is expected


def test_priced_at_the_answering_model() -> None:
    logging = FakeLogging()
    assert price_as(KNOWN, {"model_info": {"claude_code": {}}}, logging) == KNOWN
    assert logging.model_call_details["litellm_params"] == {"base_model": KNOWN}


@pytest.mark.parametrize(
    ("answered_by", "litellm_params"),
    [
        (None, {}),
        ("claude-unknown-9", {}),  # not in the price map: LiteLLM's own pricing stands
        (KNOWN, {"model_info": {"base_model": "claude-opus-4-5"}}),
        (KNOWN, {"input_cost_per_token": 8e-7}),
    ],
)
def test_left_alone(answered_by: str | None, litellm_params: dict[str, Any]) -> None:
    logging = FakeLogging()
    assert price_as(answered_by, litellm_params, logging) is None
    assert logging.model_call_details["litellm_params"] == {}


def test_without_a_logging_object_nothing_happens() -> None:
    assert price_as(KNOWN, {}, None) is None


def _searched(searches: int) -> Usage:
    return Usage(prompt_tokens=10, completion_tokens=5, server_tool_use=ServerToolUse(web_search_requests=searches))


@pytest.mark.parametrize("searches", [1, 3])
def test_searches_are_added_at_anthropics_price_per_search(searches: int) -> None:
    logging = FakeLogging()
    per_search = litellm.model_cost[KNOWN]["search_context_cost_per_query"]["search_context_size_medium"]
    assert per_search == pytest.approx(0.01)  # Anthropic's list price: $10 per 1,000 searches
    cost = price_searches(KNOWN, _searched(searches), {}, logging)
    assert cost == pytest.approx(0.01 * searches)
    assert logging.model_call_details["additional_response_cost"] == pytest.approx(0.01 * searches)


def test_searches_priced_at_the_deployments_base_model() -> None:
    logging = FakeLogging()
    params = {"model_info": {"base_model": KNOWN}}
    assert price_searches("claude-unknown-9", _searched(2), params, logging) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("answered_by", "usage"),
    [
        (KNOWN, Usage(prompt_tokens=10, completion_tokens=5)),  # no search
        (KNOWN, None),
        ("claude-unknown-9", _searched(1)),  # not in the price map: 0, as its tokens
        (None, _searched(1)),
    ],
)
def test_no_search_cost(answered_by: str | None, usage: Usage | None) -> None:
    logging = FakeLogging()
    assert price_searches(answered_by, usage, {}, logging) == 0.0
    assert "additional_response_cost" not in logging.model_call_details


def test_search_cost_without_a_logging_object_is_not_recorded() -> None:
    assert price_searches(KNOWN, _searched(1), {}, None) == 0.0
