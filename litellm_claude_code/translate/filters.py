"""Filters on the answer's deltas between the model and the client, composed like httpx's decoders.

Each filter has the same two calls: ``feed(delta)`` gives the deltas that may go
on now, ``flush(result)`` what is still to send once the answer is over
(``result`` is the SDK's result, or None when the answer ended before one, as
on a ``max_tokens`` stop). A ``Chain`` passes each filter's output, its flushed
tail included, through the filters after it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import claude_agent_sdk as sdk
from litellm.types.utils import Delta

from ..errors import Failed, Failure
from .search import Sources
from .stops import StopCutter


class Filter(Protocol):
    def feed(self, delta: Delta) -> list[Delta]: ...

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]: ...


def has_content(delta: Delta) -> bool:
    """A delta worth a chunk: OpenAI clients expect no empty deltas before the finish."""
    return bool(
        delta.content
        or getattr(delta, "reasoning_content", None)
        or delta.tool_calls
        or getattr(delta, "annotations", None)
    )


def _kept(delta: Delta) -> list[Delta]:
    return [delta] if has_content(delta) else []


class Chain:
    """Filters applied in order; a delta a filter empties goes no further."""

    def __init__(self, filters: Sequence[Filter]) -> None:
        self._filters = tuple(filters)

    def feed(self, delta: Delta) -> list[Delta]:
        return self._through(self._filters, _kept(delta))

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        out: list[Delta] = []
        for place, step in enumerate(self._filters):
            out += self._through(self._filters[place + 1 :], step.flush(result))
        return out

    @staticmethod
    def _through(filters: Sequence[Filter], deltas: list[Delta]) -> list[Delta]:
        for step in filters:
            deltas = [out for delta in deltas for out in step.feed(delta) if has_content(out)]
        return deltas


class ToolCallLimit:
    """``parallel_tool_calls=false``: Claude Code sets no such flag upstream, so calls past the limit go no further."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.dropped = False  # calls went no further: the process holds more than the client saw

    def feed(self, delta: Delta) -> list[Delta]:
        if delta.tool_calls:
            calls = [call for call in delta.tool_calls if (call.index or 0) < self._limit]
            self.dropped = self.dropped or len(calls) < len(delta.tool_calls)
            delta.tool_calls = calls or None
        return _kept(delta)

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        return []


class HiddenToolCalls:
    """Calls of Claude Code's own tools (WebSearch) are its business, not the client's: they go no further.

    A streamed call names its tool on its first delta only, so a hidden call
    is known by its index after that; the client's calls keep indexes
    counted among themselves.
    """

    def __init__(self, names: frozenset[str]) -> None:
        self._names = names
        self._hidden: set[int] = set()
        self._index: dict[int, int] = {}  # upstream index -> the client's

    def feed(self, delta: Delta) -> list[Delta]:
        if delta.tool_calls:
            kept = []
            for call in delta.tool_calls:
                index = call.index or 0
                function = getattr(call, "function", None)
                if function is not None and function.name in self._names:
                    self._hidden.add(index)
                if index in self._hidden:
                    continue
                call.index = self._index.setdefault(index, len(self._index))
                kept.append(call)
            delta.tool_calls = kept or None
        return _kept(delta)

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        return []


class Citations:
    """The answer's links to pages its searches found, as ``url_citation`` annotations after the text."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources
        self._text: list[str] = []

    def feed(self, delta: Delta) -> list[Delta]:
        self._text.append(delta.content or "")
        return [delta]

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        annotations = self._sources.annotations("".join(self._text))
        return [Delta(content=None, annotations=annotations)] if annotations else []


class JsonOutput:
    """``response_format``: the answer is the SDK's validated structured output, sent once the result confirms it.

    The model's own text and its StructuredOutput tool call are how it got
    there, not the answer; its reasoning passes as it is.
    """

    def feed(self, delta: Delta) -> list[Delta]:
        return _kept(Delta(reasoning_content=getattr(delta, "reasoning_content", None)))

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        if result is None:
            return []  # cut short (max_tokens): there is no validated output to send
        if result.structured_output is None:
            raise Failed(Failure(status=502, message="Claude gave no output matching the response_format schema"))
        return [Delta(content=json.dumps(result.structured_output, ensure_ascii=False))]


class StopSequences:
    """Stop sequences cut the text (Claude Code sends none upstream); reasoning and tool calls pass as they are."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._cutter = StopCutter(stops)

    @property
    def hit(self) -> bool:
        return self._cutter.hit

    def feed(self, delta: Delta) -> list[Delta]:
        if delta.content:
            delta.content = self._cutter.feed(delta.content) or None
        return _kept(delta)

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        return _kept(Delta(content=self._cutter.flush() or None))


class ReplyRecorder:
    """What the client was sent, to tell whether the process now holds exactly that assistant turn.

    ``exact`` says the filters before it pass the model's text unchanged (no
    stop sequences, no JSON output): only then can the client's next request
    repeat the session's history as it is.
    """

    def __init__(self, exact: bool) -> None:
        self._exact = exact
        self._text: list[str] = []
        self._reasoned = False
        self._calls: dict[int, dict[str, str]] = {}  # by index: id, name, arguments so far
        self.dropped = False  # a filter before it held back some of the model's tool calls

    def feed(self, delta: Delta) -> list[Delta]:
        self._text.append(delta.content or "")
        self._reasoned = self._reasoned or bool(getattr(delta, "reasoning_content", None))
        for call in delta.tool_calls or []:
            known = self._calls.setdefault(call.index or 0, {"id": "", "name": "", "arguments": ""})
            function = getattr(call, "function", None)  # a custom tool call has none
            known["id"] = call.id or known["id"]
            known["name"] = (function.name if function else None) or known["name"]
            known["arguments"] += (function.arguments if function else None) or ""
        return [delta]

    def flush(self, result: sdk.ResultMessage | None) -> list[Delta]:
        return []

    def held(self, end: str | None) -> list[dict[str, Any]] | None:
        """The assistant turn the process now holds, as the client's next request repeats it; else None.

        ``end`` is how the turn ended: ``end_turn`` (the model ended it: plain
        text) or ``tool_deferred`` (its tool calls went to the client, whose
        results the process can take as its next turn, issue 19); None for any
        other end. Reasoning, a stop sequence, JSON output or tool calls held
        back leave a session whose history the client cannot resend as is.
        """
        if not self._exact or self._reasoned or self.dropped:
            return None
        text = "".join(self._text)
        if end == "end_turn" and not self._calls:
            return [{"type": "text", "text": text}]
        if end != "tool_deferred" or not self._calls:
            return None
        uses = [_tool_use(call) for _, call in sorted(self._calls.items())]
        if any(use is None for use in uses):
            return None
        return [*([{"type": "text", "text": text}] if text else []), *(u for u in uses if u is not None)]


def _tool_use(call: dict[str, str]) -> dict[str, Any] | None:
    try:
        arguments = json.loads(call["arguments"] or "{}")
    except json.JSONDecodeError:
        return None
    if not call["id"] or not isinstance(arguments, dict):
        return None
    return {"type": "tool_use", "id": call["id"], "name": call["name"], "input": arguments}
