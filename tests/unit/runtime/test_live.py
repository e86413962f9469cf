"""Live processes: kept by conversation, looked up for reuse, retired, and trimmed to recent demand."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import claude_agent_sdk as sdk
import pytest

from litellm_claude_code.runtime import live
from litellm_claude_code.runtime.live import Live, conversation_key
from litellm_claude_code.runtime.process import Process, Spec
from litellm_claude_code.settings import DeploymentSettings

from .fakes import ask, request


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


def test_a_kept_process_is_found_by_its_conversation_once(tmp_path: Path) -> None:
    kept, _, _ = make()
    one = process(tmp_path, "one")
    kept.keep("conversation", one, spec(), DeploymentSettings(pool_size=2))
    assert kept.pop("other") is None
    assert kept.pop("conversation") is one
    assert kept.pop("conversation") is None


def test_reuse_takes_the_least_recently_kept_reusable_process_of_the_key(tmp_path: Path) -> None:
    kept, _, _ = make()
    settings = DeploymentSettings(pool_size=4)
    tools = process(tmp_path, "tools", reusable=False)
    other_key = process(tmp_path, "other", key="other")
    older, newer = process(tmp_path, "older"), process(tmp_path, "newer")
    for name, each in [("a", tools), ("b", other_key), ("c", older), ("d", newer)]:
        kept.keep(name, each, spec(each.key), settings)
    assert kept.take_reusable("k") is older
    assert kept.take_reusable("k") is newer
    assert kept.take_reusable("k") is None  # the tool process is never reused
    assert kept.processes() == [tools, other_key]


def test_idle_processes_beyond_pool_size_go_least_recently_kept_first(tmp_path: Path) -> None:
    kept, _, discarded = make()
    settings = DeploymentSettings(pool_size=2)
    processes = [process(tmp_path, f"p{i}") for i in range(4)]
    for index, each in enumerate(processes):
        kept.keep(f"c{index}", each, spec(), settings)
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
        kept.keep(f"c{index}", process(tmp_path, f"p{index}"), spec(), settings)
    assert len(kept.processes()) == 3
    assert len(discarded) == 1
    clock.now = 301.0  # the peak is older than the idle timeout: back to pool_size
    kept.keep("late", process(tmp_path, "late"), spec(), settings)
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
        kept.keep(f"c{index}", process(tmp_path, f"p{index}"), spec(), settings)
    assert len(kept.processes()) == 3
    clock.now = live.PEAK_SECONDS * 2
    kept.begin("k")  # the peak is stale: one busy is the new peak
    kept.end("k")
    kept.keep("late", process(tmp_path, "late"), spec(), settings)
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
    kept.keep("a", one, spec(), settings)
    kept.keep("b", two, spec(), settings)
    kept.forget(one)
    assert kept.processes() == [two]


def test_the_conversation_key_is_the_combination_and_every_turn() -> None:
    chat = request(ask("one"))
    turns = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}]
    assert conversation_key(chat, turns) == conversation_key(request(ask("one")), list(turns))
    assert conversation_key(chat, turns) != conversation_key(chat, turns[:1])
    assert conversation_key(chat, turns) != conversation_key(request(ask("one"), reasoning_effort="low"), turns)
