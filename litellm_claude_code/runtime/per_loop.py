"""The runtime of the running event loop.

Processes belong to the event loop that started them: the proxy has one loop for
its whole life, while a library caller's ``asyncio.run`` makes a loop per call.
So a provider keeps one ``Runtime`` per loop, made when a loop first asks, and
abandons the previous loop's (its processes are stopped without awaiting).
"""

from __future__ import annotations

import asyncio
import atexit
from collections import Counter
from collections.abc import Callable

from .runtime import Runtime


class PerLoop:
    def __init__(self, make: Callable[[], Runtime] = Runtime) -> None:
        self._make = make
        self._current: Runtime | None = None

    def get(self) -> Runtime:
        """The running loop's runtime (a new loop gets a new one)."""
        current = self._current
        if current is None or current.loop is not asyncio.get_running_loop():
            if current is not None:
                current.abandon()
                atexit.unregister(current.abandon)
            current = self._current = self._make()
        return current

    def counts(self) -> dict[str, int]:
        """Processes by state, of the loop that served the latest request (none before)."""
        return self._current.counts() if self._current else {}

    def stats(self) -> Counter[str]:
        """Runtime events (spare, reused, live, cold, ...) of that loop."""
        return self._current.stats if self._current else Counter()
