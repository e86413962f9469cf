"""What identifies a process and the conversation it holds: the runtime's keys, in one place.

* ``spare_key``: what a spare was started for (deployment, model, account); a
  spare serves requests of its key only.
* ``ready_key``: what a ready process's setup shares with a request to serve it
  (the spare key's deployment and model, system prompt, environment, controls).
* ``combination``: the ready key and the offered tools and their rules, which a
  live process must share with a request to continue its conversation.
* ``turn_digests``: one digest per turn, the same however a client writes it back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from typing import Any

from ..request import ChatRequest
from ..translate.prompt import json_bytes


def spare_key(request: ChatRequest) -> Hashable:
    """What a spare started for the request's deployment can serve."""
    return (request.settings, request.model, tuple(sorted(request.account_env.items())), request.config_dir)


def ready_key(request: ChatRequest) -> Hashable:
    """What a ready session must share with this request to serve it."""
    controls = request.controls
    thinking = json.dumps(controls.thinking, sort_keys=True)
    env = tuple(sorted(request.env.items()))
    return (request.settings, request.model, request.system_prompt, env, controls.effort, thinking)


def poolable(request: ChatRequest) -> bool:
    """A warm process serves it the same as a fresh one would.

    Not JSON output: its ``--json-schema`` and turn limit are fixed when a
    process starts. Not web search: a process with WebSearch on is of this
    request alone, so one is never kept for a request without search.
    """
    controls = request.controls
    return request.settings.pool_size > 0 and controls.output_schema is None and controls.search is None


def combination(request: ChatRequest) -> str:
    """What a process's setup must share with a request for it to continue a conversation:
    the ready key (model, system prompt, environment, controls) and the offered tools and their rules."""
    payload = json.dumps([repr(ready_key(request)), repr(request.controls.tools)], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def asked_turns(request: ChatRequest) -> list[dict[str, Any]]:
    """The request's earlier turns and its new one."""
    conversation = request.conversation
    return [*conversation.history, {"role": "user", "content": conversation.prompt}]


def held_digests(asked: list[str], reply: list[dict[str, Any]]) -> list[str]:
    """The digests of the conversation a process holds after answering the asked turns (``asked``, their
    digests) with the assistant turn ``reply``: the asked turns are digested once per request."""
    return [*asked, _digest({"role": "assistant", "content": reply})]


def turn_digests(turns: list[dict[str, Any]]) -> list[str]:
    """One digest per turn, the same for a turn however a client repeats it (markers and empty text aside)."""
    return [_digest(turn) for turn in turns]


def _digest(turn: dict[str, Any]) -> str:
    content = turn.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    canonical = []
    for block in blocks:
        if isinstance(block, dict):
            block = {k: v for k, v in block.items() if k != "cache_control"}
            if block.get("type") == "text" and not block.get("text"):
                continue  # LiteLLM writes an empty assistant content as nothing, or as an empty text block
        canonical.append(block)
    return hashlib.sha256(json_bytes([turn.get("role"), canonical], sort_keys=True)).hexdigest()
