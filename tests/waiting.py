"""Bounded waits for a condition the test cannot be told about by an event.

For state outside the test's reach (a port that opens, a process that exits, a
row the proxy writes in its own time) or inside code that offers no event to
wait on: the condition is polled at short intervals until it holds, and the
test fails naming what it waited for once the bound has passed. A wait for
something the test can be told about (a request reaching the mock, a chunk
reaching the client) waits on that event instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL = 0.05  # seconds between two looks at external state


class TimedOut(AssertionError):
    """The condition did not hold within the bound."""


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = INTERVAL) -> T:
    """The first truthy value of ``predicate``, polled every ``interval`` s for at most ``timeout`` s.

    Fails with ``TimedOut`` naming ``what`` (and the last value seen) once ``timeout`` has passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimedOut(f"timed out after {timeout:g}s waiting for {what} (last: {value!r})")
        time.sleep(interval)
