"""The per-deployment session cap: a bounded queue and a bounded wait, then Busy."""

from __future__ import annotations

import asyncio

import pytest

from litellm_claude_code.runtime.limits import Busy, Limiter, Limits


def test_requests_past_the_cap_queue_then_proceed() -> None:
    async def scenario() -> list[str]:
        gate = Limiter().gate("d", Limits(max_concurrent=1, max_queue=1, queue_timeout=1))
        order: list[str] = []

        async def use(name: str, hold: float) -> None:
            async with gate.slot():
                order.append(f"start {name}")
                await asyncio.sleep(hold)
            order.append(f"end {name}")

        await asyncio.gather(use("a", 0.05), use("b", 0))
        return order

    assert asyncio.run(scenario()) == ["start a", "end a", "start b", "end b"]


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
    async def scenario() -> None:
        limiter = Limiter()
        limits = Limits(max_concurrent=1, max_queue=0, queue_timeout=1)
        async with limiter.gate("a", limits).slot(), limiter.gate("b", limits).slot():
            pass

    asyncio.run(scenario())
