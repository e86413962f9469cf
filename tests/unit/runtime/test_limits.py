"""The per-deployment session cap: a bounded queue and a bounded wait, then Busy."""

from __future__ import annotations

import asyncio

import pytest

from litellm_claude_code.runtime.limits import Busy, Limiter, Limits


def test_requests_past_the_cap_queue_then_proceed() -> None:
    async def scenario() -> None:
        limiter = Limiter()
        gate = limiter.gate("d", Limits(max_concurrent=1, max_queue=1, queue_timeout=5))
        order: list[str] = []
        inside, release = asyncio.Event(), asyncio.Event()

        async def use(name: str, hold: asyncio.Event | None) -> None:
            async with gate.slot():
                order.append(f"start {name}")
                inside.set()
                if hold is not None:
                    await hold.wait()
            order.append(f"end {name}")

        first = asyncio.ensure_future(use("a", release))
        await inside.wait()
        second = asyncio.ensure_future(use("b", None))
        await asyncio.sleep(0)  # one turn of the loop, no time: b runs until it waits for the slot
        assert limiter.queued() == 1  # b waits in the queue while a holds the only slot
        with pytest.raises(Busy, match="1 requests are queued"):  # the slot taken and the queue full
            async with gate.slot():
                pass
        assert order == ["start a"]
        release.set()
        await asyncio.gather(first, second)
        assert order == ["start a", "end a", "start b", "end b"]
        assert limiter.queued() == 0

    asyncio.run(scenario())


def test_full_queue_is_busy_at_once() -> None:
    async def scenario() -> None:
        gate = Limiter().gate("d", Limits(max_concurrent=1, max_queue=0, queue_timeout=5))
        async with gate.slot():
            with pytest.raises(Busy, match="busy") as caught:
                async with gate.slot():
                    pass
            assert caught.value.retry_after >= 1

    asyncio.run(scenario())


def test_queue_wait_is_bounded() -> None:
    async def scenario() -> None:
        gate = Limiter().gate("d", Limits(max_concurrent=1, max_queue=4, queue_timeout=0.05))
        async with gate.slot():
            with pytest.raises(Busy, match=r"within 0\.05s"):
                async with gate.slot():
                    pass
        async with gate.slot():  # and the slot is free again afterwards
            pass

    asyncio.run(scenario())


def test_gates_are_per_deployment() -> None:
    """A deployment whose only slot is taken does not hold up another deployment's requests."""

    async def scenario() -> None:
        limiter = Limiter()
        limits = Limits(max_concurrent=1, max_queue=0, queue_timeout=1)
        a, b = limiter.gate("a", limits), limiter.gate("b", limits)
        assert limiter.gate("a", limits) is a  # the same deployment: the same slots
        async with a.slot():
            async with b.slot():  # b's slot, while a's is taken
                with pytest.raises(Busy):  # while a's own is still taken
                    async with a.slot():
                        pass
            async with b.slot():  # and b's is free again
                pass

    asyncio.run(scenario())
