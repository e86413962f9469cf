"""Live processes: kept by conversation, looked up for reuse, retired, and trimmed to recent demand."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.runtime import live
from litellm_claude_code.runtime.live import Live
from litellm_claude_code.runtime.process import Process, Spec
from litellm_claude_code.settings import DeploymentSettings

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def spec(key: Hashable = "k", idle_timeout: float = 300.0) -> Spec:
    return Spec(key, "/cfg", None, idle_timeout, lambda cwd: sdk.ClaudeAgentOptions(cwd=cwd))


def process(tmp_path: Path, name: str, key: str = "k", reusable: bool = True) -> Process:
    return Process(str(tmp_path / name), "/cfg", key, 0.0, reusable=reusable)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(rss: float = 200.0) -> tuple[Live, Clock, list[Process]]:
    clock, discarded = Clock(), list[Process]()
    return Live(clock, lambda process: rss, discarded.append), clock, discarded


def holding(tmp_path: Path, name: str, turns: list[str], combination: str = "setup") -> Process:
    """A kept process holding ``turns`` (digests); user turns (even places) are marked as cut points
    unless named "result" (tool results stay with their calls)."""
    held = process(tmp_path, name)
    held.combination, held.turns = combination, list(turns)
    held.marks = [None if i % 2 or turn == "result" else f"uuid-{name}-{i}" for i, turn in enumerate(turns)]
    return held


@pytest.mark.parametrize(
    ("asked", "history", "keep"),
    [
        (["u1", "a1", "u2"], 2, 2),  # continued: it holds the whole history
        (["u1", "a1", "u2", "a2", "u3"], 4, 2),  # turns it never saw (served elsewhere) are fed to it
        (["u1", "a1", "u2 edited"], 2, 2),  # the last turn edited: it already holds just the history
        (["u1", "x1", "u2"], 2, 0),  # differs in the first answer: no user turn to cut at keeps u1
        (["u0"], 0, 0),  # a new conversation
    ],
    ids=["continued", "fed-the-rest", "edited-new-turn", "differs-early", "new"],
)
def test_a_process_holding_two_turns_serves_what_extends_them(
    tmp_path: Path, asked: list[str], history: int, keep: int
) -> None:
    kept, _, _ = make()
    one = holding(tmp_path, "one", ["u1", "a1"])
    kept.keep(one, spec(), DeploymentSettings(pool_size=2))
    found = kept.take_longest("setup", asked, history)
    assert found == ((one, keep) if keep else None)
    assert kept.processes() == ([] if keep else [one])  # taken once, no longer kept


def test_the_longest_beginning_wins_and_a_longer_held_conversation_is_cut_at_a_user_turn(tmp_path: Path) -> None:
    kept, _, _ = make()
    settings = DeploymentSettings(pool_size=4)
    short = holding(tmp_path, "short", ["u1", "a1"])
    long = holding(tmp_path, "long", ["u1", "a1", "u2", "a2", "u3", "a3"])
    other = holding(tmp_path, "other", ["u1", "a1", "u2", "a2", "u3", "a3"], combination="tools differ")
    for each in (short, long, other):
        kept.keep(each, spec(), settings)
    # The answer to u3 regenerated: "long" is cut back to before u3 and asked again.
    assert kept.take_longest("setup", ["u1", "a1", "u2", "a2", "u3"], 4) == (long, 4)
    assert kept.processes() == [short, other]


def test_a_held_conversation_is_never_cut_between_tool_calls_and_their_results(tmp_path: Path) -> None:
    kept, _, _ = make()
    loop = holding(tmp_path, "loop", ["u1", "calls", "result", "a2"])
    kept.keep(loop, spec(), DeploymentSettings(pool_size=2))
    # The final answer regenerated: the only user turn to cut at before it is u1's... which would
    # leave nothing held: the results' turn is no cut point, so no process serves it.
    assert kept.take_longest("setup", ["u1", "calls", "other result"], 2) is None


def test_reuse_takes_the_least_recently_kept_reusable_process_of_the_key(tmp_path: Path) -> None:
    kept, _, _ = make()
    settings = DeploymentSettings(pool_size=4)
    tools = process(tmp_path, "tools", reusable=False)
    other_key = process(tmp_path, "other", key="other")
    older, newer = process(tmp_path, "older"), process(tmp_path, "newer")
    for each in [tools, other_key, older, newer]:
        kept.keep(each, spec(each.key), settings)
    assert kept.take_reusable("k") is older
    assert kept.take_reusable("k") is newer
    assert kept.take_reusable("k") is None  # the tool process is never reused
    assert kept.processes() == [tools, other_key]


def test_idle_processes_beyond_pool_size_go_least_recently_kept_first(tmp_path: Path) -> None:
    kept, _, discarded = make()
    settings = DeploymentSettings(pool_size=2)
    processes = [process(tmp_path, f"p{i}") for i in range(4)]
    for each in processes:
        kept.keep(each, spec(), settings)
    assert discarded == processes[:2]
    assert kept.processes() == processes[2:]


def test_the_recent_busy_peak_raises_the_idle_cap_within_max_concurrent(tmp_path: Path) -> None:
    kept, clock, discarded = make()
    settings = DeploymentSettings(pool_size=1, max_concurrent=3)
    for _ in range(5):  # five at once: the cap is max_concurrent, not five
        kept.begin("k")
    for _ in range(5):
        kept.end("k")
    assert kept.busy() == 0
    for index in range(4):
        kept.keep(process(tmp_path, f"p{index}"), spec(), settings)
    assert len(kept.processes()) == 3
    assert len(discarded) == 1
    clock.now = 301.0  # the peak is older than the idle timeout: back to pool_size
    kept.keep(process(tmp_path, "late"), spec(), settings)
    assert len(kept.processes()) == 1


def test_a_lower_peak_replaces_a_stale_one_only(tmp_path: Path) -> None:
    kept, clock, _ = make()
    settings = DeploymentSettings(pool_size=1, max_concurrent=8)
    for _ in range(3):
        kept.begin("k")
    for _ in range(3):
        kept.end("k")
    clock.now = live.PEAK_SECONDS / 2
    kept.begin("k")  # one busy now: the peak of three, recent, holds
    kept.end("k")
    for index in range(4):
        kept.keep(process(tmp_path, f"p{index}"), spec(), settings)
    assert len(kept.processes()) == 3
    clock.now = live.PEAK_SECONDS * 2
    kept.begin("k")  # the peak is stale: one busy is the new peak
    kept.end("k")
    kept.keep(process(tmp_path, "late"), spec(), settings)
    assert len(kept.processes()) == 1


@pytest.mark.parametrize(
    ("conversations", "age", "rss", "retired"),
    [
        (live.MAX_CONVERSATIONS - 1, live.MAX_AGE_SECONDS - 1, live.MAX_RSS_MIB - 1, False),
        (live.MAX_CONVERSATIONS, 0.0, 0.0, True),
        (0, live.MAX_AGE_SECONDS + 1, 0.0, True),
        (0, 0.0, live.MAX_RSS_MIB + 1, True),
    ],
    ids=["within-bounds", "conversations", "age", "memory"],
)
def test_a_process_retires_past_any_bound(
    tmp_path: Path, conversations: int, age: float, rss: float, retired: bool
) -> None:
    kept, clock, _ = make(rss=rss)
    one = process(tmp_path, "one")
    one.conversations = conversations
    clock.now = age
    assert kept.retired(one) is retired


def test_forget_drops_a_process_under_every_conversation_it_is_kept_under(tmp_path: Path) -> None:
    kept, _, _ = make()
    one, two = process(tmp_path, "one"), process(tmp_path, "two")
    settings = DeploymentSettings(pool_size=4)
    kept.keep(one, spec(), settings)
    kept.keep(two, spec(), settings)
    kept.forget(one)
    assert kept.processes() == [two]
