"""Choosing the process for a request: live, reused, spare, one starting, or one of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code.runtime import spares as spares_module
from litellm_claude_code.runtime.runner import QueryTimeout

from .fakes import Fakes, ask, request, saturated_cpu, serve


def test_a_request_that_gives_up_waiting_for_a_starting_spare_leaves_it_a_spare(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        fakes.starts = asyncio.Event()  # spares are held while starting
        runtime = fakes.runtime()
        await serve(runtime, request(ask("one")), reply=None)  # cold; a spare starts
        await fakes.starting.wait()
        with pytest.raises(QueryTimeout):
            await serve(runtime, request(ask("two"), timeout=0.05))  # waits for it, then gives up
        assert runtime.stats["waited"] == 1
        assert runtime.counts()["starting"] == 1  # given back: still starting, no longer the request's
        fakes.starts.set()
        await runtime.settled()
        assert runtime.counts()["spare"] == 1
        await serve(runtime, request(ask("three")), reply=None)
        assert len(fakes.connected) == 1
        assert len(fakes.attached) == 1
        await runtime.close()

    asyncio.run(scenario())


def test_a_spare_that_fails_to_start_sends_the_waiting_request_to_a_start_of_its_own(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        starting, fail = asyncio.Event(), asyncio.Event()

        async def failing(options: Any) -> Any:
            starting.set()
            await fail.wait()
            raise OSError("no CLI")

        runtime = fakes.runtime(fakes.seam(open=failing))
        await serve(runtime, request(ask("one")), reply=None)  # cold; a spare starts
        await starting.wait()
        second = asyncio.create_task(serve(runtime, request(ask("two")), reply=None))
        fail.set()  # the second request runs first (it was scheduled first): it claims the start, which fails
        await second
        assert runtime.stats["waited"] == 1
        assert len(fakes.connected) == 2
        await runtime.close()

    asyncio.run(scenario())


def test_a_request_does_not_wait_for_a_spare_start_held_back_by_a_busy_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It starts its own: the held-back start may wait its whole bound, and more behind others."""
    monkeypatch.setattr(spares_module, "BUSY_WAIT_SECONDS", 60.0)

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(busy=saturated_cpu)
        await serve(runtime, request(ask("one")), reply=None)  # cold; a spare's start is held back
        assert runtime.counts()["starting"] == 1
        await serve(runtime, request(ask("two"), timeout=1.0), reply=None)  # before: waited 60 s
        assert runtime.stats["waited"] == 0
        assert runtime.stats["cold"] == 2
        await runtime.close()

    asyncio.run(scenario())
