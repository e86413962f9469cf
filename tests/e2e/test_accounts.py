"""Several Claude subscriptions serve one model name: each account keeps its own token, and a
rate-limited account is skipped (cooled down) while the others answer.

Two deployments of ``sonnet`` (accounts A and B), each with its own ``oauth_token_env``,
``config_dir`` and ``base_url`` (its own mock), under the repository's ``litellm_settings``
and ``router_settings`` (whose ``enable_weighted_failover`` makes the router try the model's
other account after a 429 before any fallback model), plus the per-account settings the
docs/accounts.md gives:

- ``model_info.allowed_fails_policy: {RateLimitErrorAllowedFails: 0}`` per account: the
  repo's router-wide ``allowed_fails_policy`` turns off LiteLLM's default "cool down a
  deployment of a multi-deployment model on its first 429"; without this the limited
  account stays in rotation (3 fails allowed per 5 s window, which slow requests never
  reach). The cooldown lasts the Retry-After the provider reports (the upstream reset).
Claude Code's own retry stays at its default: a 429 it would wait out is answered at once
(issue 12), so a throttled account hands over to the other one within a second.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.anthropic_mock import MockAnthropic, Reply

from ..waiting import wait_until
from .harness import CONFIG, DECOY_API_KEY, Proxy, claude_env, free_port, post_chat, run_proxy

pytestmark = pytest.mark.e2e

TOKENS = {"a": "sk-ant-oat01-account-a-token", "b": "sk-ant-oat01-account-b-token"}
PROXY_WIDE_TOKEN = "sk-ant-oat01-proxy-wide-token-not-for-accounts"  # the proxy's CLAUDE_CODE_OAUTH_TOKEN
COOLDOWN = 15  # seconds until account A's rate limit resets
MULTI_ACCOUNT_MODEL_INFO = {"allowed_fails_policy": {"RateLimitErrorAllowedFails": 0}}


@pytest.fixture(scope="module")
def accounts() -> Iterator[dict[str, MockAnthropic]]:
    with MockAnthropic() as mock_a, MockAnthropic() as mock_b:
        yield {"a": mock_a, "b": mock_b}


@pytest.fixture(autouse=True)
def _fresh_accounts(accounts: dict[str, MockAnthropic]) -> None:
    for name, mock in accounts.items():
        mock.reset()
        mock.default = Reply(chunks=[f"account {name}"])


def _accounts_config(home: Path, accounts: dict[str, MockAnthropic]) -> Path:
    """The repo config with its ``sonnet`` deployment split over two accounts."""
    config = yaml.safe_load(CONFIG.read_text())
    sonnet = next(entry for entry in config["model_list"] if entry["model_name"] == "sonnet")
    config["model_list"] = []
    for name, mock in accounts.items():
        deployment = copy.deepcopy(sonnet)
        deployment["model_info"].update(copy.deepcopy(MULTI_ACCOUNT_MODEL_INFO))
        deployment["model_info"]["id"] = f"account-{name}"
        deployment["model_info"]["claude_code"] = {
            "oauth_token_env": f"CLAUDE_TOKEN_{name.upper()}",
            "config_dir": str(home / f"claude-{name}"),
            "base_url": mock.url,
        }
        config["model_list"].append(deployment)
    assert config["router_settings"]["enable_weighted_failover"] is True  # the repo config's own setting
    path = home / "accounts.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def accounts_proxy(accounts: dict[str, MockAnthropic], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    home: Path = tmp_path_factory.mktemp("accounts-home")
    env = claude_env(home, f"http://127.0.0.1:{free_port()}")  # proxy-wide base URL: nothing listens there
    env["CLAUDE_CODE_OAUTH_TOKEN"] = PROXY_WIDE_TOKEN
    env.update({f"CLAUDE_TOKEN_{name.upper()}": token for name, token in TOKENS.items()})
    with run_proxy(home, env, config=_accounts_config(home, accounts)) as running:
        yield running


def _answer(proxy: Proxy) -> str:
    response = post_chat(proxy, "sonnet")
    assert response.status_code == 200, f"{response.status_code} {response.text}\n{proxy.log_tail()}"
    return str(response.json()["choices"][0]["message"]["content"])


def test_each_account_uses_only_its_own_token(accounts_proxy: Proxy, accounts: dict[str, MockAnthropic]) -> None:
    answers = []
    for _ in range(12):  # an account not heard from yet is tried first (issue 20): both within 12 requests
        answers.append(_answer(accounts_proxy))
        if all(mock.requests for mock in accounts.values()):
            break
    assert set(answers) == {"account a", "account b"}, answers
    for name, mock in accounts.items():
        other = TOKENS["b" if name == "a" else "a"]
        for request in mock.requests + mock.other_requests:
            assert request.headers.get("authorization") == f"Bearer {TOKENS[name]}", request.headers
            assert "x-api-key" not in request.headers
            seen = repr(request.headers)
            for foreign in (other, DECOY_API_KEY, PROXY_WIDE_TOKEN):
                assert foreign not in seen


def test_rate_limited_account_is_cooled_down(accounts_proxy: Proxy, accounts: dict[str, MockAnthropic]) -> None:
    limited, healthy = accounts["a"], accounts["b"]
    reset = int(time.time()) + COOLDOWN
    headers = {
        "retry-after": str(COOLDOWN),
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(reset),
    }
    limited.default = Reply(status=429, error_type="rate_limit_error", error_message="usage limit", headers=headers)
    for _ in range(12):  # until the router has picked account A once; B answers every request
        assert _answer(accounts_proxy) == "account b"
        if limited.requests:
            break
    assert len(limited.requests) == 1, "account A was never picked, or asked twice"
    served_by_b = len(healthy.requests)
    for _ in range(6):  # A is cooled down until its reset: B answers, A sees nothing
        assert _answer(accounts_proxy) == "account b"
    assert time.time() < reset, "the requests outlasted the cooldown, so they proved nothing"
    assert len(limited.requests) == 1, "a cooled-down account got traffic"
    assert len(healthy.requests) == served_by_b + 6

    limited.default = Reply(chunks=["account a"])  # the limit has reset: A is back in rotation
    # The cooldown is the Retry-After the provider reported: Claude Code's retry delay, which is
    # upstream's retry-after plus Claude Code's own jitter (measured: about 10% more).
    # Asked until A answers again: not before its reset, and within a cooldown's length after it.
    answers: list[tuple[float, str]] = []

    def a_is_back() -> bool:
        asked = time.time()
        answers.append((asked, _answer(accounts_proxy)))
        return answers[-1][1] == "account a"

    wait_until(a_is_back, reset + 1 + COOLDOWN - time.time(), "account A back after its reset", interval=0.5)
    assert answers[-1][0] >= reset, (reset, answers)


def test_a_throttled_account_hands_over_within_a_second(
    accounts_proxy: Proxy, accounts: dict[str, MockAnthropic]
) -> None:
    """A plain throttle (429 with only retry-after, not a usage limit): the other account answers at once."""
    throttled, healthy = accounts["a"], accounts["b"]
    throttled.default = Reply(
        status=429,
        error_type="rate_limit_error",
        error_message="Server is temporarily limiting requests (not your usage limit)",
        headers={"retry-after": "7"},
    )
    for _ in range(12):  # until the router has picked account A once
        started = time.monotonic()
        assert _answer(accounts_proxy) == "account b"
        elapsed = time.monotonic() - started
        if throttled.requests:
            break
    assert len(throttled.requests) == 1, "account A was never picked, or asked twice"
    assert elapsed < 1.5, f"handing over took {elapsed:.1f}s"  # not A's 7-second wait
    assert healthy.requests
