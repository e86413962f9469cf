"""A model's accounts as one pool (issue 20), through the real proxy and Claude Code.

One mock answers every account, each by its OAuth token with its own
``anthropic-ratelimit-unified-*`` headers (``anthropic_mock.Account``): two
deployments of ``sonnet`` (accounts A and B) on the repository's config, with
the per-account settings of docs/accounts.md.
"""

from __future__ import annotations

import copy
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.anthropic_mock import Account, MockAnthropic, Reply

from .harness import CONFIG, Proxy, claude_env, run_proxy
from .test_quota import _metric

pytestmark = pytest.mark.e2e

TOKENS = {"a": "sk-ant-oat01-pool-account-a", "b": "sk-ant-oat01-pool-account-b"}
NAME_OF = {token: name for name, token in TOKENS.items()}
REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))


def pool_config(
    home: Path, base_url: str, extra_usage: str = "refuse", tweak: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """The repo config with ``sonnet`` on two accounts of one mock."""
    config = yaml.safe_load(CONFIG.read_text())
    sonnet = next(entry for entry in config["model_list"] if entry["model_name"] == "sonnet")
    config["model_list"] = []
    for name in TOKENS:
        deployment = copy.deepcopy(sonnet)
        deployment["model_info"].update(
            {
                "id": f"account-{name}",
                "allowed_fails_policy": {"RateLimitErrorAllowedFails": 0},
                "claude_code": {
                    "oauth_token_env": f"CLAUDE_TOKEN_{name.upper()}",
                    "config_dir": str(home / f"claude-{name}"),
                    "base_url": base_url,
                    "extra_usage": extra_usage,
                },
            }
        )
        config["model_list"].append(deployment)
    if tweak is not None:
        tweak(config)
    path = home / f"pool-{extra_usage}-{secrets.token_hex(3)}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def pool_env(home: Path, base_url: str) -> dict[str, str]:
    env = claude_env(home, base_url)
    env.update({f"CLAUDE_TOKEN_{name.upper()}": token for name, token in TOKENS.items()})
    return env


@pytest.fixture
def pool_proxy(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy of the test's own: it starts with no account measured."""
    home = tmp_path_factory.mktemp("pool-home")
    with run_proxy(home, pool_env(home, mock.url), config=pool_config(home, mock.url)) as running:
        yield running


def chat(proxy: Proxy, messages: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json={"model": "sonnet", "messages": messages},
        timeout=60,
    )


def served(proxy: Proxy, messages: list[dict[str, Any]]) -> httpx.Response:
    response = chat(proxy, messages)
    assert response.status_code == 200, f"{response.status_code} {response.text}\n{proxy.log_tail()}"
    return response


def who(mock: MockAnthropic, since: int = 0) -> list[str]:
    """The accounts the mock's requests were made for, in order."""
    return [NAME_OF.get(mock.token_of(r), "?") for r in mock.requests[since:]]


def measure_both(proxy: Proxy, mock: MockAnthropic) -> None:
    """New conversations until each account has answered once (accounts not heard from are tried first)."""
    for index in range(2):
        served(proxy, [{"role": "user", "content": f"measure {index} {secrets.token_hex(4)}"}])
    assert sorted(who(mock)) == ["a", "b"], who(mock)


def test_new_conversations_go_to_the_account_with_room(pool_proxy: Proxy, mock: MockAnthropic) -> None:
    mock.accounts = {TOKENS["a"]: Account(five_hour=0.92, seven_day=0.4), TOKENS["b"]: Account(five_hour=0.15)}
    measure_both(pool_proxy, mock)
    before = len(mock.requests)
    for index in range(20):
        response = served(pool_proxy, [{"role": "user", "content": f"new conversation {index}"}])
        assert response.headers["x-claude-code-routing"] == "new"
    shares = Counter(who(mock, before))
    print(f"\nrouting share: account b (15%) {shares['b']}/20, account a (92%) {shares['a']}/20")
    assert shares["b"] >= 18, shares  # at least 90%
    assert response.headers["x-claude-code-account"] == "account-b"
    assert response.headers["x-claude-code-account-standing"] == "room"


def _conversation_of(mock: MockAnthropic, index: int) -> list[str]:
    marker = f"conversation {index}:"
    return [NAME_OF[mock.token_of(r)] for r in mock.requests if marker in str(r.body.get("messages"))]


def test_conversations_stay_on_their_account_and_move_once_past_the_threshold(
    pool_proxy: Proxy, mock: MockAnthropic
) -> None:
    a, b = Account(five_hour=0.30, step=0.01), Account(five_hour=0.30, step=0.01)
    mock.accounts = {TOKENS["a"]: a, TOKENS["b"]: b}
    histories: list[list[dict[str, Any]]] = [[] for _ in range(8)]
    for turn in range(4):
        for index, history in enumerate(histories):
            history.append({"role": "user", "content": f"conversation {index}: turn {turn}"})
            reply = served(pool_proxy, history).json()["choices"][0]["message"]["content"]
            history.append({"role": "assistant", "content": reply})
    places = {index: _conversation_of(mock, index) for index in range(8)}
    for index, place in places.items():
        assert len(place) == 4, (index, place)
        assert len(set(place)) == 1, (index, place)
    assert {place[0] for place in places.values()} == {"a", "b"}, places  # both accounts took new ones

    # Conversation 0's account passes the threshold while the other has room: it moves once, and stays.
    mine = places[0][0]
    other = "b" if mine == "a" else "a"
    mock.accounts[TOKENS[mine]].five_hour = 0.85
    moves = []
    for turn in range(4, 8):
        histories[0].append({"role": "user", "content": f"conversation 0: turn {turn}"})
        response = served(pool_proxy, histories[0])
        moves.append(response.headers["x-claude-code-routing"])
        histories[0].append({"role": "assistant", "content": response.json()["choices"][0]["message"]["content"]})
    # The first of these turns reports the new utilization; the next one moves.
    assert _conversation_of(mock, 0)[4:] == [mine, other, other, other]
    assert moves == ["kept", "moved", "kept", "kept"]
    text = httpx.get(f"{pool_proxy.url}/metrics/", headers=_admin(pool_proxy), timeout=30).text
    assert (
        _metric(text, "claude_code_routing_decisions_total", deployment=f"account-{other}", decision="moved") or 0
    ) >= 1


def _admin(proxy: Proxy) -> dict[str, str]:
    return {"Authorization": f"Bearer {proxy.master_key}"}


def test_an_account_on_extra_usage_gets_nothing_more_and_a_spent_pool_is_a_clear_429(
    pool_proxy: Proxy, mock: MockAnthropic
) -> None:
    a, b = Account(five_hour=0.10), Account(five_hour=0.50)
    mock.accounts = {TOKENS["a"]: a, TOKENS["b"]: b}
    measure_both(pool_proxy, mock)
    a.five_hour, a.overage = 1.0, "allowed"  # A's plan is spent: it answers from extra usage
    served(pool_proxy, [{"role": "user", "content": "reveals A's extra usage"}])  # A had the most room
    assert a.extra_usage_answers == 1
    before = len(mock.requests)
    for index in range(6):
        served(pool_proxy, [{"role": "user", "content": f"after extra usage {index}"}])
    assert who(mock, before) == ["b"] * 6
    assert a.extra_usage_answers == 1
    text = httpx.get(f"{pool_proxy.url}/metrics/", headers=_admin(pool_proxy), timeout=30).text
    assert _metric(text, "claude_code_quota_extra_usage_in_use", deployment="account-a") == 1.0
    assert _metric(text, "claude_code_quota_extra_usage_in_use", deployment="account-b") == 0.0

    b.five_hour = 1.0  # B's plan is spent too, without extra usage: it refuses with a 429
    first = chat(pool_proxy, [{"role": "user", "content": "B refuses"}])
    assert first.status_code == 429, first.text
    asked = len(mock.requests)
    started = time.monotonic()
    refused = chat(pool_proxy, [{"role": "user", "content": "nothing left"}])
    elapsed = time.monotonic() - started
    assert refused.status_code == 429, refused.text
    assert elapsed < 1.0, elapsed
    assert 3000 <= float(refused.headers["retry-after"]) <= 3601
    message = refused.json()["error"]["message"]
    assert "plan limit of every Claude account serving 'sonnet' is reached" in message, message
    assert "extra usage (paid, past the plan) is refused by this proxy's configuration" in message, message
    assert len(mock.requests) == asked  # nothing upstream
    assert a.extra_usage_answers == 1  # nothing more served from extra usage
    health = httpx.get(f"{pool_proxy.url}/health", headers=_admin(pool_proxy), timeout=30).json()
    assert "using extra usage" in str(health), health


def test_a_pool_whose_plans_are_spent_says_so_not_cooldown(pool_proxy: Proxy, mock: MockAnthropic) -> None:
    """Both accounts refuse with a 429 (the router cools both down): the next client sees why, and when."""
    mock.accounts = {
        TOKENS["a"]: Account(five_hour=1.0, reset_in=1200),
        TOKENS["b"]: Account(five_hour=1.0, reset_in=600),
    }
    first = chat(pool_proxy, [{"role": "user", "content": "A refuses, then B"}])
    assert first.status_code == 429, first.text
    print(f"\nfirst refusal: {first.json()['error']['message']}")
    asked = len(mock.requests)
    started = time.monotonic()
    again = chat(pool_proxy, [{"role": "user", "content": "and now?"}])
    assert time.monotonic() - started < 1.0
    assert again.status_code == 429, again.text
    message = again.json()["error"]["message"]
    assert "plan limit of every Claude account serving 'sonnet' is reached" in message, message
    assert "cooldown" not in message.lower(), message
    assert "extra usage" not in message, message  # none of them offers any
    assert 500 <= float(again.headers["retry-after"]) <= 601  # B's reset, the earlier one
    assert len(mock.requests) == asked


def test_with_extra_usage_allowed_the_request_is_served(
    mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("pool-allow")
    a = Account(five_hour=1.0, overage="allowed")
    mock.accounts = {TOKENS["a"]: a, TOKENS["b"]: Account(five_hour=1.0)}
    config = pool_config(home, mock.url, extra_usage="allow")
    with run_proxy(home, pool_env(home, mock.url), config=config) as proxy:
        responses = [served(proxy, [{"role": "user", "content": f"allowed {index}"}]) for index in range(3)]
    assert a.extra_usage_answers == 3
    assert responses[-1].headers["x-claude-code-account-standing"] == "extra_usage"


def test_the_third_party_extra_usage_400_says_what_happened(proxy: Proxy, mock: MockAnthropic) -> None:
    mock.default = Reply(
        status=400,
        error_type="invalid_request_error",
        error_message=(
            "Third-party apps now draw from your extra usage, not your plan limits. "
            "Add more at claude.ai/settings/usage and keep going."
        ),
    )
    response = chat(proxy, [{"role": "user", "content": "third party?"}])
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "billed this request as a third-party app's" in message, message
    assert "extra usage" in message


@pytest.fixture(scope="module")
def redis_namespace() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"needs Redis at {REDIS_HOST}:{REDIS_PORT}: {error}")
    namespace = f"litellm_test_{secrets.token_hex(6)}"
    try:
        yield namespace
    finally:
        for key in client.scan_iter(match=f"{namespace}:*", count=500):
            client.delete(key)
        client.close()


def test_two_replicas_sharing_redis_keep_a_conversation_on_one_account(
    mock: MockAnthropic, redis_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    def shared(config: dict[str, Any]) -> None:
        router = config.setdefault("router_settings", {})
        router.update(
            {"redis_host": REDIS_HOST, "redis_port": REDIS_PORT, "cache_kwargs": {"namespace": redis_namespace}}
        )

    mock.accounts = {TOKENS["a"]: Account(five_hour=0.2), TOKENS["b"]: Account(five_hour=0.2)}
    master_key = f"sk-{secrets.token_urlsafe(24)}"
    starting = []
    for name in ("x", "y"):
        home = tmp_path_factory.mktemp(f"pool-replica-{name}")
        starting.append(
            run_proxy(home, pool_env(home, mock.url), pool_config(home, mock.url, tweak=shared), master_key)
        )
    with ExitStack() as stack:
        with ThreadPoolExecutor(2) as threads:
            futures = [threads.submit(manager.__enter__) for manager in starting]
        for manager, future in zip(starting, futures, strict=True):
            if future.exception() is None:
                stack.push(manager.__exit__)
        x, y = (future.result() for future in futures)
        served(x, [{"role": "user", "content": "first on x"}])  # x's first new conversation: account A
        history: list[dict[str, Any]] = [{"role": "user", "content": "conversation 0: turn 0"}]
        first = served(x, history)  # to the account x has not heard from yet: B
        assert first.headers["x-claude-code-account"] == "account-b"
        history += [{"role": "assistant", "content": first.json()["choices"][0]["message"]["content"]}]
        mock.accounts[TOKENS["b"]].five_hour = 0.5  # B still has room, A more
        served(y, [{"role": "user", "content": "first on y"}])
        served(y, [{"role": "user", "content": "second on y"}])  # y has heard from both accounts now
        # y on its own would send a conversation to A, the account with the most room:
        assert served(y, [{"role": "user", "content": "third on y"}]).headers["x-claude-code-account"] == "account-a"
        for turn in range(1, 4):
            history.append({"role": "user", "content": f"conversation 0: turn {turn}"})
            response = served(y if turn % 2 else x, history)
            assert response.headers["x-claude-code-account"] == "account-b", response.headers
            assert response.headers["x-claude-code-routing"] == "kept"
            history.append({"role": "assistant", "content": response.json()["choices"][0]["message"]["content"]})
    assert len(set(_conversation_of(mock, 0))) == 1, _conversation_of(mock, 0)
