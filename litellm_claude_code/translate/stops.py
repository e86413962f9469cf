"""Stop sequences applied to a reply as it streams.

Claude Code sends no ``stop_sequences`` upstream, so the reply is cut here:
text is released as soon as it cannot be the start of a stop sequence, and
everything from the first stop sequence on is dropped. Pure, like the stream
translator it serves.
"""

from __future__ import annotations


class StopCutter:
    """Feed text pieces; get back what may be sent, until a stop sequence."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self._held = ""  # a tail that may still grow into a stop sequence
        self.hit = False

    def feed(self, text: str) -> str:
        """The part of ``text`` (and of what was held) that is safe to send."""
        if self.hit or not self.stops:
            return "" if self.hit else text
        buffer = self._held + text
        cut = _first_stop(buffer, self.stops)
        if cut is not None:
            self.hit = True
            self._held = ""
            return buffer[:cut]
        keep = _longest_partial(buffer, self.stops)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """What was held back, once the reply is over without a stop."""
        held, self._held = self._held, ""
        return "" if self.hit else held


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _longest_partial(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text`` that begins some stop sequence."""
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), best, -1):
            if stop.startswith(text[-size:]):
                best = size
                break
    return best
