"""The provider's own metrics: token counters by deployment and kind (issue 19)."""

from __future__ import annotations

from collections import Counter

from litellm.llms.anthropic.chat.transformation import AnthropicConfig
from prometheus_client import CollectorRegistry, generate_latest

from litellm_claude_code.counters import Outcomes, Tokens
from litellm_claude_code.proxy.metrics import ProviderCollector
from litellm_claude_code.quota import Quotas


def usage(input_tokens: int, read: int, written: int, output: int) -> object:
    raw = {
        "input_tokens": input_tokens,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
        "output_tokens": output,
    }
    return AnthropicConfig().calculate_usage(usage_object=raw, reasoning_content=None)


def test_token_counters_add_up_per_deployment_and_kind() -> None:
    tokens = Tokens()
    tokens.count("account-a", usage(5, 100, 30, 7))
    tokens.count("account-a", usage(2, 130, 9, 4))
    tokens.count("account-b", usage(50, 0, 0, 1))
    registry = CollectorRegistry()
    registry.register(ProviderCollector(Quotas(), Outcomes(), dict, Counter, lambda: 0, tokens))
    text = generate_latest(registry).decode()
    expected = {
        ("account-a", "input"): 7,
        ("account-a", "cache_read"): 230,
        ("account-a", "cache_write"): 39,
        ("account-a", "output"): 11,
        ("account-b", "input"): 50,
        ("account-b", "cache_read"): 0,
    }
    for (deployment, kind), value in expected.items():
        assert f'claude_code_tokens_total{{deployment="{deployment}",kind="{kind}"}} {float(value)}' in text
