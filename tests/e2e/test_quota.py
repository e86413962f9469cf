"""Quota you can see, and rate limits answered at once (issue 12), through the real proxy."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

from .harness import Proxy, module_proxy, post_chat

pytestmark = pytest.mark.e2e


proxy = module_proxy("quota", "an exhausted usage window here refuses the whole account")


def unified(status: str, five: float, seven: float, reset_in: int, claim: str = "five_hour") -> dict[str, str]:
    """The API's anthropic-ratelimit-unified-* header set."""
    now = int(time.time())
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": str(now + reset_in),
        "anthropic-ratelimit-unified-representative-claim": claim,
        "anthropic-ratelimit-unified-5h-utilization": str(five),
        "anthropic-ratelimit-unified-5h-reset": str(now + reset_in),
        "anthropic-ratelimit-unified-5h-status": "allowed_warning" if five >= 0.8 else "allowed",
        "anthropic-ratelimit-unified-7d-utilization": str(seven),
        "anthropic-ratelimit-unified-7d-reset": str(now + 5 * 86400),
        "anthropic-ratelimit-unified-7d-status": "allowed",
        "anthropic-ratelimit-unified-overage-status": "rejected",
        "anthropic-ratelimit-unified-fallback": "available",
    }


def _stream_headers(proxy: Proxy, model: str) -> httpx.Headers:
    body: dict[str, Any] = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {proxy.master_key}"}
    with httpx.stream("POST", f"{proxy.url}/v1/chat/completions", headers=headers, json=body, timeout=60) as r:
        assert r.status_code == 200
        for _ in r.iter_lines():
            pass
        return r.headers


@pytest.mark.parametrize(("five", "seven"), [(0.25, 0.1), (0.82, 0.47)])
def test_every_response_carries_the_accounts_quota(
    proxy: Proxy, mock: MockAnthropic, five: float, seven: float
) -> None:
    mock.default = Reply(headers=unified("allowed", five, seven, reset_in=3600))
    try:
        response = post_chat(proxy, "sonnet")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-unified-5h-utilization"] == f"{five:g}"
        assert response.headers["x-ratelimit-unified-7d-utilization"] == f"{seven:g}"
        assert response.headers["x-ratelimit-unified-status"] == "allowed"
        assert response.headers["x-ratelimit-unified-representative-claim"] == "five_hour"
        assert response.headers["x-ratelimit-unified-overage-status"] == "rejected"
        assert response.headers["x-ratelimit-unified-5h-reset"].endswith("Z")
        # A stream's headers go out before its answer: they carry the quota as last seen.
        streamed = _stream_headers(proxy, "sonnet")
        assert streamed["x-ratelimit-unified-5h-utilization"] == f"{five:g}"
    finally:
        mock.default = Reply()


def test_a_plain_throttle_is_a_429_at_once_with_retry_after(proxy: Proxy, mock: MockAnthropic) -> None:
    throttle = Reply(
        status=429,
        error_type="rate_limit_error",
        error_message="Server is temporarily limiting requests (not your usage limit)",
        headers={"retry-after": "7"},
    )
    mock.default = throttle
    try:
        started = time.monotonic()
        response = post_chat(proxy, "opus")  # opus has no fallback model
        elapsed = time.monotonic() - started
    finally:
        mock.default = Reply()
    assert response.status_code == 429, response.text
    assert 7 <= float(response.headers["retry-after"]) <= 10  # upstream's 7 s plus Claude Code's jitter
    assert elapsed < 3, elapsed  # not Claude Code's own 7-second wait
    assert len(mock.requests) == 1  # and no retry of it


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text ``text``."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in head for key, wanted in labels.items()):
            return float(value)
    return None


def _tokens(text: str, kind: str) -> float:
    """``claude_code_tokens_total`` of the kind, summed over deployments."""
    lines = [line for line in text.splitlines() if line.startswith("claude_code_tokens_total{")]
    return sum(float(line.rpartition(" ")[2]) for line in lines if f'kind="{kind}"' in line)


def test_metrics_show_quota_processes_and_outcomes(proxy: Proxy, mock: MockAnthropic) -> None:
    headers = {"Authorization": f"Bearer {proxy.master_key}"}  # /metrics needs a key (LiteLLM's default)
    before = httpx.get(f"{proxy.url}/metrics/", headers=headers, timeout=30).text
    mock.default = Reply(
        headers=unified("allowed", 0.63, 0.29, reset_in=1800),
        input_tokens=7,
        cache_read_input_tokens=300,
        cache_creation_input_tokens=40,
        output_tokens=5,
    )
    try:
        assert post_chat(proxy, "opus").status_code == 200
    finally:
        mock.default = Reply()
    text = httpx.get(f"{proxy.url}/metrics/", headers=headers, timeout=30).text
    # Token counters per deployment and kind (issue 19): this answer's counts added.
    added = {
        kind: _tokens(text, kind) - _tokens(before, kind) for kind in ("input", "cache_read", "cache_write", "output")
    }
    assert added == {"input": 7, "cache_read": 300, "cache_write": 40, "output": 5}
    assert _metric(text, "claude_code_quota_utilization", model="opus", window="5h") == 0.63
    assert _metric(text, "claude_code_quota_utilization", model="opus", window="7d") == 0.29
    assert _metric(text, "claude_code_quota_status", model="opus", status="allowed") == 1.0
    assert (_metric(text, "claude_code_requests_total", status="200") or 0) >= 1
    assert _metric(text, "claude_code_processes", state="busy") == 0
    assert (_metric(text, "claude_code_process_events_total", event="started") or 0) >= 1
    assert _metric(text, "claude_code_queue_length") == 0
    assert "litellm_" in text  # LiteLLM's own metrics, same registry
    health = httpx.get(f"{proxy.url}/health", headers=headers, timeout=30).json()
    [opus] = [e for e in health["healthy_endpoints"] if e["model"] == "claude-code/opus"]
    assert opus["x-ratelimit-remaining-requests"].startswith("allowed: 5h 37% left until ")
    assert "7d 71% left" in opus["x-ratelimit-remaining-requests"]
    assert len(mock.requests) == 1  # /health asked nothing upstream


def test_an_exhausted_usage_window_refuses_the_account_without_asking_upstream(
    proxy: Proxy, mock: MockAnthropic
) -> None:
    window = Reply(
        status=429,
        error_type="rate_limit_error",
        error_message="usage limit reached",
        headers={**unified("rejected", 1.0, 0.5, reset_in=40), "retry-after": "40"},
    )
    mock.script(window)
    response = post_chat(proxy, "sonnet")  # its router fallback is haiku, on the same account
    assert response.status_code == 429, response.text
    assert 30 <= float(response.headers["retry-after"]) <= 41
    assert len(mock.requests) == 1  # the 5-hour window covers haiku too: not asked
    started = time.monotonic()
    again = post_chat(proxy, "haiku")
    assert again.status_code == 429
    assert float(again.headers["retry-after"]) > 20
    assert time.monotonic() - started < 1.5
    assert len(mock.requests) == 1
    health = httpx.get(f"{proxy.url}/health", headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=30)
    unhealthy = {e["model"].removeprefix("claude-code/"): e for e in health.json()["unhealthy_endpoints"]}
    assert {"sonnet", "haiku", "opus"} <= set(unhealthy)  # every model of the account
    assert "five_hour usage limit is reached" in str(unhealthy["haiku"])
    assert len(mock.requests) == 1  # /health asked nothing upstream
