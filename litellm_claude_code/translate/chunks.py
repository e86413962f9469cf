"""The chunks of one answer, as OpenAI's streaming format has them (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices, Usage

SYNTHETIC_MODEL = "<synthetic>"  # the CLI's model name on messages it made itself


class ChunkMaker:
    """One id, one creation time and one model name for every chunk of an answer."""

    def __init__(self, model: str, clock: Callable[[], float]) -> None:
        self.model = model  # what the client asked for, until upstream names the model that answers
        self.id = f"chatcmpl-{uuid.uuid4()}"
        self.created = int(clock())
        self.started = False  # a content chunk has been made

    def answered_by(self, model: str | None) -> None:
        """Upstream named the model answering (the CLI's own messages name none that counts)."""
        if model and model != SYNTHETIC_MODEL:
            self.model = model

    def content(self, delta: Delta) -> ModelResponseStream:
        if not self.started:
            delta.role = "assistant"  # OpenAI names the role on the first delta only
        self.started = True
        return self._chunk([StreamingChoices(index=0, delta=delta)])

    def usage(self, usage: Usage) -> ModelResponseStream:
        # Usage travels in a chunk of its own (choices=[]) before the finish
        # chunk: LiteLLM drops usage attached to a content-less finish chunk.
        chunk = self._chunk([])
        chunk.usage = usage
        return chunk

    def finish(self, reason: str) -> ModelResponseStream:
        return self._chunk([StreamingChoices(index=0, delta=Delta(content=None), finish_reason=reason)])

    def _chunk(self, choices: list[StreamingChoices]) -> ModelResponseStream:
        return ModelResponseStream(id=self.id, created=self.created, model=self.model, choices=choices)
