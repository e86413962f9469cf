#!/usr/bin/env python3
"""A small fake Claude Code CLI speaking stream-json, for runtime tests without the real one.

It answers the control requests the runtime sends (initialize, rewind_conversation,
set_model, apply_flag_settings), appends ``shouldQuery: false`` user frames, and
answers a user turn with stream events, the assistant message and a result. The
prompt steers it: "hang" never answers, "slow" streams a delta every 0.2 s.
Every line it reads (and its pid and cwd at start) goes to ``$FAKE_CLI_LOG``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

LOG = os.environ.get("FAKE_CLI_LOG")
SESSION = str(uuid.uuid4())


def log(entry: dict[str, Any]) -> None:
    if LOG:
        with open(LOG, "a") as sink:
            sink.write(json.dumps(entry) + "\n")


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def control_answer(request: dict[str, Any]) -> dict[str, Any]:
    subtype = request.get("subtype")
    if subtype == "rewind_conversation":
        return {"rewound": bool(request.get("last_seen_user_message_uuid"))}
    if subtype == "set_model":
        return {"model": f"fake-{request.get('model')}"}
    return {}


def event(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "stream_event",
        "uuid": str(uuid.uuid4()),
        "session_id": SESSION,
        "event": payload,
        "parent_tool_use_id": None,
    }


def answer(text: str) -> None:
    emit(
        {
            "type": "system",
            "subtype": "init",
            "session_id": SESSION,
            "claude_code_version": "2.1.331",
            "tools": [],
            "mcp_servers": [],
            "model": "fake-model",
            "cwd": os.getcwd(),
        }
    )
    if "hang" in text:
        while True:
            time.sleep(60)
    pieces = [f"part{i} " for i in range(20)] if "slow" in text else ["fake ", "answer"]
    message = {
        "id": f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": "fake-model",
        "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    emit(event({"type": "message_start", "message": message}))
    emit(event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
    for piece in pieces:
        emit(event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}))
        if "slow" in text:
            time.sleep(0.2)
    emit(event({"type": "content_block_stop", "index": 0}))
    emit(event({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}))
    emit(event({"type": "message_stop"}))
    whole = {**message, "content": [{"type": "text", "text": "".join(pieces)}], "stop_reason": "end_turn"}
    emit(
        {
            "type": "assistant",
            "message": whole,
            "parent_tool_use_id": None,
            "session_id": SESSION,
            "uuid": str(uuid.uuid4()),
        }
    )
    result(1, "".join(pieces))


def result(turns: int, text: str = "") -> None:
    emit(
        {
            "type": "result",
            "subtype": "success",
            "duration_ms": 1,
            "duration_api_ms": 1,
            "is_error": False,
            "num_turns": turns,
            "session_id": SESSION,
            "stop_reason": "end_turn" if turns else None,
            "total_cost_usd": 0,
            "usage": {"input_tokens": 3, "output_tokens": 2},
            "result": text,
        }
    )


def main() -> None:
    log({"start": True, "pid": os.getpid(), "cwd": os.getcwd(), "argv": sys.argv[1:]})
    for line in sys.stdin:
        frame = json.loads(line)
        log(frame)
        kind = frame.get("type")
        if kind == "control_request":
            request = frame.get("request") or {}
            emit(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "success",
                        "request_id": frame["request_id"],
                        "response": control_answer(request),
                    },
                }
            )
        elif kind == "user" and frame.get("shouldQuery") is False:
            emit({"type": "system", "subtype": "init", "session_id": SESSION, "claude_code_version": "2.1.331"})
            result(0)
        elif kind == "user":
            content = frame["message"]["content"]
            text = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)
            answer(text)


if __name__ == "__main__":
    main()
