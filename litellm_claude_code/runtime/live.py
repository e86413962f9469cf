"""Live processes: each kept with the conversation it holds, as many as recent demand.

A process that answered a conversation cleanly (plain text, or tool calls now
with the client) is kept with that conversation, turn by turn, so the
conversation's next request sends only its new turn: the tool results of an
agent loop's round go to the process that asked for them (issue 19). A request
whose history shares only a beginning with a kept conversation (an edited last
turn, a regenerated answer) takes the process holding the longest such
beginning, which is cut back to where they differ (``rewind_conversation``). A
plain-chat process may also be rewound for another conversation, the least
recently used first. Idle processes kept per deployment follow the recent peak
of busy ones, within ``pool_size`` and ``max_concurrent``.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable

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
        self._kept: OrderedDict[int, Process] = OrderedDict()  # by id(), least recently kept first
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

    def take_longest(self, combination: str, turns: list[str], history: int) -> tuple[Process, int] | None:
        """The process holding the longest beginning of a conversation, and how many of its turns to keep.

        ``turns``: digests of the request's earlier turns and its new one;
        ``history``: how many of them are earlier turns. A process qualifies
        when it was set up the same way (``combination``) and it keeps at least
        the first turn: all it holds when that is a beginning of the history
        (the rest is fed to it), else its turns up to a user turn where it may be
        cut back (``Process.marks``). No longer kept once taken.
        """
        best: tuple[Process, int] | None = None
        for process in self._kept.values():
            if process.combination != combination:
                continue
            keep = _kept_turns(process, turns, history)
            if keep and (best is None or keep > best[1]):
                best = (process, keep)
        if best is not None:
            self.forget(best[0])
        return best

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

    def keep(self, process: Process, spec: Spec, settings: DeploymentSettings) -> None:
        """Keep the process with the conversation it now holds; trim the spec's idle ones to the cap."""
        process.last_used = self._clock()
        self._kept[id(process)] = process
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


def _kept_turns(process: Process, turns: list[str], history: int) -> int:
    """How many of the process's turns serve the request (0: none)."""
    held = process.turns
    same = 0
    for mine, theirs in zip(held, turns[:history], strict=False):
        if mine != theirs:
            break
        same += 1
    if same == len(held):
        return same  # it holds a beginning of the history: nothing to cut
    # Cut back to the latest user turn within the shared beginning (the new turn
    # is sent, never kept: a regenerated answer cuts before its question).
    return next((i for i in range(same, 0, -1) if process.marks[i] is not None), 0)
