"""How an answer ends: when it is over, its finish reason and its usage (pure)."""

from __future__ import annotations

import claude_agent_sdk as sdk
from litellm.litellm_core_utils.core_helpers import map_finish_reason
from litellm.llms.anthropic.chat.transformation import AnthropicConfig
from litellm.types.utils import Usage

# The run ended because a PreToolUse hook deferred the client's tool call.
DEFERRED_STOP_REASON = "tool_deferred"
# Upstream stop reasons after which nothing Claude Code does belongs to the answer.
FINAL_STOP_REASONS = frozenset({"max_tokens"})


class Ending:
    """The facts an answer's end is told from, gathered as the stream goes."""

    def __init__(self) -> None:
        self.result: sdk.ResultMessage | None = None
        self.complete = False  # the answer is over: stop reading the query
        self._stop_reason: str | None = None  # the latest API message's
        self._stream_usage: Usage | None = None  # the current API message's, from its events

    def stopped(self, stop_reason: str | None, streamed: bool) -> None:
        """An API message's stop reason, from its stream (``streamed``) or its whole message."""
        self._stop_reason = stop_reason or self._stop_reason
        # Claude Code answers a max_tokens stop by asking the model to go on
        # (a second API call, even with max_turns=1). The client asked for a
        # capped reply: the answer ends here, with finish_reason "length".
        if streamed and self._stop_reason in FINAL_STOP_REASONS:
            self.complete = True

    def counted(self, usage: Usage) -> None:
        self._stream_usage = usage

    def ended(self, result: sdk.ResultMessage) -> None:
        self.result = result
        self.complete = True

    @property
    def settled(self) -> str | None:
        """How the turn ended when it ended well: ``end_turn`` (the model ended it) or
        ``tool_deferred`` (its tool calls went to the client); None otherwise."""
        result = self.result
        if result is None or result.is_error:
            return None
        end = result.stop_reason or "end_turn"
        return end if end in ("end_turn", DEFERRED_STOP_REASON) else None

    def finish_reason(self, cut: bool) -> str:
        """OpenAI's finish reason: a stop sequence ``cut`` the text, else upstream's last word."""
        final = self.result.stop_reason if self.result else None
        final = "tool_use" if final == DEFERRED_STOP_REASON else final
        return map_finish_reason("stop_sequence" if cut else self._stop_reason or final or "end_turn")

    def usage(self) -> Usage:
        """Token counts the SDK reported for the query (or the streamed message, when cut short)."""
        if self.result is None and self._stream_usage is not None:
            return self._stream_usage
        raw = (self.result.usage if self.result else None) or {}
        return AnthropicConfig().calculate_usage(usage_object=raw, reasoning_content=None)
