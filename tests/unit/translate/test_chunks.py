"""The chunks of one answer: one id, creation time and model name; the role on the first delta only."""

from __future__ import annotations

from typing import Any

from litellm.types.utils import Delta, Usage

from litellm_claude_code.translate.chunks import ChunkMaker


def _chunk(model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {"created": 1000, "model": model, "object": "chat.completion.chunk", "choices": choices}


def test_chunks_share_id_and_time_and_name_the_answering_model_from_when_it_is_known() -> None:
    maker = ChunkMaker("sonnet", clock=lambda: 1000.0)
    chunks = [maker.content(Delta(content="a"))]
    maker.answered_by("<synthetic>")  # the CLI's own message: no model answered it
    maker.answered_by(None)
    chunks.append(maker.content(Delta(content="b")))
    maker.answered_by("claude-sonnet-4-5")
    chunks += [
        maker.content(Delta(content="c")),
        maker.usage(Usage(prompt_tokens=1, completion_tokens=2)),
        maker.finish("stop"),
    ]
    assert {chunk.id for chunk in chunks} == {maker.id}
    dumps = [chunk.model_dump(exclude_none=True, exclude={"id", "usage"}) for chunk in chunks]  # type: ignore[no-untyped-call]  # litellm's override is unannotated
    assert dumps == [
        _chunk("sonnet", [{"index": 0, "delta": {"content": "a", "role": "assistant"}}]),
        _chunk("sonnet", [{"index": 0, "delta": {"content": "b"}}]),
        _chunk("claude-sonnet-4-5", [{"index": 0, "delta": {"content": "c"}}]),
        _chunk("claude-sonnet-4-5", []),
        _chunk("claude-sonnet-4-5", [{"index": 0, "finish_reason": "stop", "delta": {}}]),
    ]
    assert (chunks[3].usage.prompt_tokens, chunks[3].usage.completion_tokens) == (1, 2)
