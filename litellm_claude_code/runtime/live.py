"""Live processes: each kept under exactly the conversation it holds, as many as recent demand.

A process that answered a conversation cleanly is kept under that conversation,
so the conversation's next request sends only its new turn; a plain-chat one may
also be rewound for another conversation. Idle processes kept per deployment
follow the recent peak of busy ones, within ``pool_size`` and ``max_concurrent``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from ..request import ChatRequest
from ..settings import DeploymentSettings
from .process import Process, Spec

# Reuse bounds: RSS grows with every conversation a process serves; a process
# retires after this many conversations, this age or this much memory.
MAX_CONVERSATIONS = 200
MAX_AGE_SECONDS = 3600.0
MAX_RSS_MIB = 700.0
# A busy peak older than this may be replaced by a lower one.
PEAK_SECONDS = 60.0


class Live:
    """The kept processes by conversation key (least recently kept first), and busy counts."""

    def __init__(
        self, clock: Callable[[], float], rss: Callable[[Process], float], discard: Callable[[Process], None]
    ) -> None:
        """``discard`` takes a process trimmed off: it is no longer kept here."""
        self._clock, self._rss, self._discard = clock, rss, discard
        self._kept: OrderedDict[str, Process] = OrderedDict()
        self._busy: Counter[Hashable] = Counter()
        self._peak: dict[Hashable, tuple[int, float]] = {}  # key -> (busy peak, when)

    def begin(self, key: Hashable) -> None:
        """A request of the key is being served."""
        self._busy[key] += 1
        peak, when = self._peak.get(key, (0, 0.0))
        busy = self._busy[key]
        if busy >= peak or self._clock() - when > PEAK_SECONDS:
            self._peak[key] = (busy, self._clock())

    def end(self, key: Hashable) -> None:
        self._busy[key] -= 1

    def busy(self) -> int:
        return sum(self._busy.values())

    def pop(self, conversation: str) -> Process | None:
        """The process holding exactly this conversation, no longer kept."""
        return self._kept.pop(conversation, None)

    def take_reusable(self, key: Hashable) -> Process | None:
        """The least recently kept process of the key that may be rewound for another conversation."""
        for conversation, process in self._kept.items():
            if process.key == key and process.reusable:
                del self._kept[conversation]
                return process
        return None

    def retired(self, process: Process) -> bool:
        """Too many conversations, too old or too big to keep."""
        too_old = self._clock() - process.born > MAX_AGE_SECONDS
        return process.conversations >= MAX_CONVERSATIONS or too_old or self._rss(process) > MAX_RSS_MIB

    def keep(self, conversation: str, process: Process, spec: Spec, settings: DeploymentSettings) -> None:
        """Keep the process under the conversation it now holds; trim the spec's idle ones to the cap."""
        process.last_used = self._clock()
        self._kept[conversation] = process
        kept = [(k, p) for k, p in self._kept.items() if p.key == spec.key]
        excess = len(kept) - self._cap(spec, settings)
        for trimmed, old in kept[: max(0, excess)]:  # least recently kept first
            del self._kept[trimmed]
            self._discard(old)

    def _cap(self, spec: Spec, settings: DeploymentSettings) -> int:
        """Idle processes kept: the recent peak of busy ones, within pool_size and max_concurrent."""
        peak, when = self._peak.get(spec.key, (0, 0.0))
        recent = peak if self._clock() - when < spec.idle_timeout else 0
        return max(0, min(settings.max_concurrent, max(settings.pool_size, recent)))

    def processes(self) -> list[Process]:
        return list(self._kept.values())

    def forget(self, process: Process) -> None:
        for conversation in [k for k, p in self._kept.items() if p is process]:
            del self._kept[conversation]


def conversation_key(request: ChatRequest, turns: list[dict[str, Any]]) -> str:
    """Identity of what a process holds: the request's combination plus every turn."""
    payload = json.dumps([repr(request.ready_key), turns], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
