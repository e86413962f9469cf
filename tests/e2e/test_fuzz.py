"""Property-based fuzzing of /v1/chat/completions: never a 5xx, never a hang."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy

pytestmark = pytest.mark.e2e

roles = st.sampled_from(["user", "assistant", "system", "developer", "tool", "function", "wizard", "", None])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40)
)
parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=40)}),
    st.fixed_dictionaries(
        {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": st.text(max_size=40)})}
    ),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
    scalars,
)
contents = st.one_of(scalars, st.lists(parts, max_size=3))
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries({"role": roles, "content": contents}), st.dictionaries(st.text(max_size=8), scalars)
    ),
    max_size=4,
)
extras = st.dictionaries(
    st.sampled_from(["max_tokens", "stop", "n", "temperature", "tools", "tool_choice", "response_format", "stream"]),
    scalars,
    max_size=3,
)
bodies = st.builds(
    lambda m, x, model: {"model": model, "messages": m, **x}, messages, extras, st.sampled_from(["sonnet", "nope"])
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies)
# Found by this test in CI: LiteLLM's response_format conversion raised a TypeError (a 500) on false.
@example(body={"model": "sonnet", "messages": [{"role": "user", "content": None}], "response_format": False})
def test_random_bodies_never_5xx(proxy: Proxy, mock: MockAnthropic, body: dict[str, Any]) -> None:
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        json=body,
        timeout=60,
    )
    assert response.status_code < 500, (body, response.text[:300])
