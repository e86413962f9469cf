"""The warm-session pool with fake clients: bounds, expiry, exact-history reuse."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from litellm_claude_code.pool import Session, SessionPool, conversation_key


class FakeClient:
    def __init__(self) -> None:
        self.disconnected = False

    async def disconnect(self) -> None:
        self.disconnected = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _session(tmp_path: Path, name: str, key: str = "k", deployment: str = "d", idle: float = 60) -> Session:
    cwd = tmp_path / name
    cwd.mkdir()
    return Session(FakeClient(), str(cwd), str(tmp_path / "cfg"), deployment, key, idle)


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_live_session_is_found_only_by_its_exact_history(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = SessionPool(connect=lambda options: asyncio.sleep(0))
        session = _session(tmp_path, "a")
        held = [{"role": "user", "content": [{"type": "text", "text": "one"}]}]
        pool.keep_live(conversation_key("k", held), session, capacity=2)
        edited = [{"role": "user", "content": [{"type": "text", "text": "one!"}]}]
        assert pool.take_live(conversation_key("k", edited)) is None
        assert pool.take_live(conversation_key("other", held)) is None
        assert pool.take_live(conversation_key("k", held)) is session
        assert pool.take_live(conversation_key("k", held)) is None  # taken: busy now

    _run(scenario())


def test_capacity_evicts_the_least_recently_used(tmp_path: Path) -> None:
    async def scenario() -> Session:
        clock = Clock()
        pool = SessionPool(connect=lambda options: asyncio.sleep(0), clock=clock)
        sessions = [_session(tmp_path, f"s{i}") for i in range(3)]
        for i, session in enumerate(sessions):
            clock.now = i
            pool.keep_live(f"key{i}", session, capacity=2)
        await asyncio.sleep(0.05)
        assert pool.idle_sessions == 2
        assert pool.take_live("key0") is None
        assert sessions[0].client.disconnected
        return sessions[0]

    evicted = _run(scenario())
    assert not os.path.exists(evicted.cwd)


def test_idle_sessions_expire(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        pool = SessionPool(connect=lambda options: asyncio.sleep(0), clock=clock)
        pool.keep_live("key", _session(tmp_path, "s", idle=10), capacity=4)
        clock.now = 5
        assert pool.expire() == 0
        clock.now = 11
        assert pool.expire() == 1
        assert pool.idle_sessions == 0

    _run(scenario())


def _recording_connect(started: list[Any]) -> Any:
    async def connect(options: Any) -> FakeClient:
        started.append(options)
        return FakeClient()

    return connect


def test_warm_starts_one_ready_session_per_combination(tmp_path: Path) -> None:
    started: list[Any] = []
    connect = _recording_connect(started)

    async def scenario() -> None:
        pool = SessionPool(connect=connect)
        template = _session(tmp_path, "t", key="combo")
        make = lambda: SimpleNamespace(cwd=str(tmp_path / f"ready{len(started)}"))  # noqa: E731
        pool.warm(template, make, capacity=2)
        pool.warm(template, make, capacity=2)  # already warming: no second process
        await asyncio.sleep(0.05)
        assert len(started) == 1
        ready = pool.take_ready("combo")
        assert ready is not None
        assert ready.ready_key == "combo"
        assert pool.take_ready("combo") is None
        assert pool.take_ready("another") is None

    _run(scenario())


def test_warm_makes_room_by_evicting_the_oldest_live_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = SessionPool(connect=lambda options: asyncio.sleep(0, FakeClient()))
        pool.keep_live("old", _session(tmp_path, "live"), capacity=1)
        ready_dir = tmp_path / "ready"
        ready_dir.mkdir()
        pool.warm(_session(tmp_path, "t", key="combo"), lambda: SimpleNamespace(cwd=str(ready_dir)), capacity=1)
        await asyncio.sleep(0.05)
        assert pool.take_live("old") is None
        assert pool.take_ready("combo") is not None

    _run(scenario())


def test_warm_respects_capacity_of_ready_sessions(tmp_path: Path) -> None:
    started: list[Any] = []
    connect = _recording_connect(started)

    async def scenario() -> None:
        pool = SessionPool(connect=connect)
        first = tmp_path / "r1"
        first.mkdir()
        pool.warm(_session(tmp_path, "t1", key="a"), lambda: SimpleNamespace(cwd=str(first)), capacity=1)
        await asyncio.sleep(0.05)
        pool.warm(_session(tmp_path, "t2", key="b"), lambda: SimpleNamespace(cwd=str(tmp_path / "r2")), capacity=1)
        await asyncio.sleep(0.05)
        assert len(started) == 1  # no live session to evict: the ready one stays, no second process

    _run(scenario())
