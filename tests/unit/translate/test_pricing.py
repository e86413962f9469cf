"""Spend priced at the model that answered, unless the deployment fixes its own pricing."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_claude_code.translate.pricing import deployment_prices_itself, price_as

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
