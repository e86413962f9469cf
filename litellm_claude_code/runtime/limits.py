"""A cap on concurrent Claude Code sessions per deployment, with a bounded queue.

Each CLI process takes hundreds of MiB (``scripts/bench`` measures the peak): past the cap, requests wait in a queue
of bounded length for a bounded time, and past those the caller gets a 429
with Retry-After instead of the server running out of memory or waiting
without end. LiteLLM's router can then fall back to another deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass

from ..settings import DeploymentSettings


class Busy(Exception):
    """No session slot within the queue's bounds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    max_concurrent: int
    max_queue: int
    queue_timeout: float

    @classmethod
    def of(cls, settings: DeploymentSettings) -> Limits:
        """A deployment's limits, from its settings."""
        return cls(settings.max_concurrent, settings.max_queue, settings.queue_timeout)


class Gate:
    """Slots for one deployment."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.max_concurrent)
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked() and self.waiting >= self.limits.max_queue:
            raise Busy(
                f"all {self.limits.max_concurrent} Claude Code sessions of this deployment are busy "
                f"and {self.waiting} requests are queued",
                retry_after=1.0,
            )
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.limits.queue_timeout)
        except TimeoutError:
            raise Busy(
                f"no Claude Code session of this deployment became free within {self.limits.queue_timeout:g}s",
                retry_after=max(1.0, self.limits.queue_timeout / 4),
            ) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


class Limiter:
    """A gate per deployment (and event loop, which asyncio primitives belong to)."""

    def __init__(self) -> None:
        self._gates: dict[tuple[int, Hashable], Gate] = {}

    def queued(self) -> int:
        """Requests waiting for a session, over every deployment."""
        return sum(gate.waiting for gate in self._gates.values())

    def gate(self, deployment: Hashable, limits: Limits) -> Gate:
        key = (id(asyncio.get_running_loop()), deployment)
        gate = self._gates.get(key)
        if gate is None or gate.limits != limits:
            gate = self._gates[key] = Gate(limits)
        return gate
