"""What the caching mock says about a conversation's requests (issue 19)."""

from __future__ import annotations

from itertools import pairwise

from tests.anthropic_mock import Recorded
from tests.prompt_cache import shared_prefix


def uncached(request: Recorded) -> int:
    """Input tokens not read from the cache: written to it now, or not cached at all."""
    assert request.usage is not None, "the mock's prompt cache is off"
    return int(request.usage["input_tokens"]) + int(request.usage["cache_creation_input_tokens"])


def assert_each_extends_the_previous(requests: list[Recorded]) -> None:
    """Every request repeats the whole previous one from its start and reads from the cache
    everything the previous one read or wrote: only its new turn is uncached."""
    for number, (before, after) in enumerate(pairwise(requests), start=2):
        same, total = shared_prefix(before.body, after.body)
        assert same == total, f"request {number} repeats {same} of the previous request's {total} tokens"
        assert before.usage is not None
        assert after.usage is not None
        covered = before.usage["cache_read_input_tokens"] + before.usage["cache_creation_input_tokens"]
        assert after.usage["cache_read_input_tokens"] == covered, f"request {number}: {after.usage}, before {covered}"
        # All of the previous request was read: what is not is the new turn alone.
        assert covered == total, f"request {number - 1} left {total - covered} tokens after its last breakpoint"
