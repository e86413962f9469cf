"""Per-key shares of an account pool's 5-hour window (issue 20), with virtual keys on PostgreSQL.

Two keys with ``metadata.claude_code_window_share`` 25% and 75% take turns on ``opus``
(one account). The mock's account adds each answer's weighted tokens to its 5-hour
window (4% an answer) and keeps its own accounting of what each answer added; the
proxy's estimate of each key's use (``/metrics``) is compared with it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import Account, MockAnthropic, Reply
from tests.e2e.harness import FAKE_OAUTH_TOKEN, Proxy
from tests.e2e.test_quota import _metric

from .conftest import admin_headers, generate_key, wait_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]

PER_ANSWER = 0.04  # of the window
OUTSIDE = 0.04  # used on the account outside the proxy while the keys work


def _ask(proxy: Proxy, key: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "opus", "messages": [{"role": "user", "content": text}]},
        timeout=60,
    )


def _estimates(proxy: Proxy) -> dict[str, float]:
    text = httpx.get(f"{proxy.url}/metrics/", headers=admin_headers(proxy.master_key), timeout=30).text
    found = {alias: _metric(text, "claude_code_window_share_used", key=alias, model="opus") for alias in ("q", "t")}
    return {alias: value for alias, value in found.items() if value is not None}


def test_a_key_past_its_share_is_refused_while_the_other_is_served(db_proxy: Proxy, mock: MockAnthropic) -> None:
    account = Account(five_hour=0.10, capacity=Account.weighted(Reply()) / PER_ANSWER)
    mock.accounts = {FAKE_OAUTH_TOKEN: account}
    quarter = generate_key(
        db_proxy.url, db_proxy.master_key, key_alias="q", metadata={"claude_code_window_share": 0.25}
    )
    three = generate_key(db_proxy.url, db_proxy.master_key, key_alias="t", metadata={"claude_code_window_share": 0.75})
    served_by: list[str] = []  # the key of each answered request, in order: the mock's charges are in that order
    refusal: httpx.Response | None = None
    refused_at = 0.0
    for turn in range(12):
        if turn == 4:
            account.five_hour += OUTSIDE  # someone used the account on claude.ai meanwhile
        for alias, key in (("q", quarter), ("t", three)):
            if alias == "q" and refusal is not None:
                continue
            response = _ask(db_proxy, key, f"{alias} {turn}")
            if alias == "q" and response.status_code == 429:
                refusal, refused_at = response, time.time()
                continue
            assert response.status_code == 200, response.text
            served_by.append(alias)
    assert refusal is not None, "the 25% key was never refused"
    true_use = {
        alias: sum(c for c, who in zip(account.charges, served_by, strict=True) if who == alias) for alias in "qt"
    }
    # Refused once its estimate reached 25%: the estimate charges the keys the outside use in
    # proportion (so it may run ahead of the truth), and may lag the key's latest answer (logged
    # after the response) by one.
    assert 0.25 - OUTSIDE <= true_use["q"] <= 0.25 + 2 * PER_ANSWER, true_use
    assert "share of the 5-hour window of 'opus' (25%) is used up" in refusal.json()["error"]["message"]
    assert 0 < int(refusal.headers["retry-after"]) <= account.window_ends - refused_at + 1  # at the window's reset
    assert served_by.count("t") == 12  # the other key kept being served

    total = sum(true_use.values())
    estimates: dict[str, Any] = wait_for(
        lambda: (found := _estimates(db_proxy)) and sum(found.values()) >= total - 0.005 and found,
        "every answer to be counted in the estimate",
    )
    errors = {alias: estimates[alias] - true_use[alias] for alias in "qt"}
    print(
        "\nwindow share estimate vs the mock's accounting: "
        + ", ".join(f"{a}: estimated {estimates[a]:.4f}, true {true_use[a]:.4f}, error {errors[a]:+.4f}" for a in "qt")
    )
    # The use outside the proxy is charged to the keys in proportion (the one error this estimate has).
    assert all(abs(error) <= OUTSIDE for error in errors.values()), errors
