"""Which process serves a request: its conversation's live one, else the best candidate prepared,
else one started for it alone; a request that may not share a process (``keys.poolable``), or a
runtime that keeps none, always gets one started for it alone."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Hashable
from typing import Any

import claude_agent_sdk as sdk

from ..request import ChatRequest
from ..sdk_seam import ControlError
from .frames import history_frames
from .keys import combination
from .live import Live
from .options import history_turns
from .prepare import Preparation
from .process import Process, Processes, Spec
from .spares import Spares

logger = logging.getLogger(__name__)

# Past this many earlier turns a transcript resumed by a new process is
# cheaper than feeding the turns one by one.
SEED_MAX_TURNS = 400


class Chooser:
    """Takes a process for a request's new turn and prepares it; a process that fails to prepare goes."""

    def __init__(
        self,
        live: Live,
        spares: Spares,
        preparation: Preparation,
        processes: Processes,
        stats: Counter[str],
    ) -> None:
        self._live, self._spares, self._preparation = live, spares, preparation
        self._processes, self._stats = processes, stats

    async def take(
        self, request: ChatRequest, spec: Spec, own: bool, asked: list[str]
    ) -> tuple[Process, list[dict[str, Any]]]:
        """A process ready for the request's new turn, and the earlier turns it still needs (frames).

        ``asked``: the digests of the request's turns (``keys.turn_digests``).
        ``own``: a process started for this request alone, never taken from
        another (and never kept after it: the runtime closes it). All options at
        start and the history resumed from a transcript, except tool results,
        which are fed as history, never resumed (issue 10).
        """
        turns = history_turns(request)
        if own and not request.conversation.answers_tool_calls:
            self._stats["one_shot"] += 1
            return await self._preparation.cold(request, spec, turns or None), []
        if turns and not own:
            continued = await self._continue(request, asked)
            if continued is not None:
                held, keep = continued
                return held, history_frames(turns[keep:])
        if len(turns) > SEED_MAX_TURNS:
            self._stats["resumed"] += 1
            return await self._preparation.cold(request, spec, turns), []
        plain = not request.controls.tools.offered
        while not own and (process := await self._candidate(spec.key, plain)) is not None:
            try:
                await self._preparation.prepare(process, request)
                replayed = await self._replay(process, request, turns)
            except (ControlError, sdk.ClaudeSDKError, OSError) as error:
                logger.info("Claude Code process discarded while preparing it: %s", error)
                await self._processes.close(process)
                continue
            except BaseException:  # the deadline passed or the client went away: the process goes too
                await asyncio.shield(self._processes.close(process))
                raise
            return process, history_frames(turns[replayed:])
        self._stats["cold"] += 1
        process = await self._preparation.cold(request, spec, None)
        try:
            replayed = await self._replay(process, request, turns)
        except (ControlError, sdk.ClaudeSDKError, OSError):
            await self._processes.close(process)  # replaying is off now: a process started again is only fed
            process, replayed = await self._preparation.cold(request, spec, None), 0
        except BaseException:
            await asyncio.shield(self._processes.close(process))
            raise
        return process, history_frames(turns[replayed:])

    async def _replay(self, process: Process, request: ChatRequest, turns: list[dict[str, Any]]) -> int:
        """The history's first answer replayed into the empty process (``replay``); how many turns it holds.

        Fails closed: the first failure turns replaying off for this runtime
        (the history is only fed from then on, as before issue 19) and the
        caller discards the process, whose state is then unknown.
        """
        try:
            return await self._preparation.replay_first(process, request, turns)
        except (ControlError, sdk.ClaudeSDKError, OSError) as error:
            logger.warning("replaying a conversation's first answer failed, turned off: %s", error)
            self._preparation.replay = None
            raise

    async def _continue(self, request: ChatRequest, asked: list[str]) -> tuple[Process, int] | None:
        """The live process holding the longest beginning of the conversation, cut back to it if needed,
        and how many earlier turns it holds: the rest are fed to it."""
        conversation = request.conversation
        found = self._live.take_longest(combination(request), asked, len(conversation.history))
        if found is None:
            return None
        process, keep = found
        if keep < len(process.turns):
            try:
                await self._preparation.cut(process, keep)
            except (ControlError, sdk.ClaudeSDKError, OSError) as error:
                logger.info("Claude Code process discarded while cutting its conversation back: %s", error)
                await self._processes.close(process)
                return None
            except BaseException:  # the deadline passed or the client went away: the process goes too
                await asyncio.shield(self._processes.close(process))
                raise
            self._stats["rewound"] += 1
        elif keep == len(conversation.history):
            self._stats["live"] += 1
        else:
            self._stats["extended"] += 1
        return process, keep

    async def _candidate(self, key: Hashable, plain: bool) -> Process | None:
        """The next process to try for a new conversation, best first; None: start one for it.

        Plain chat: an idle process to reuse, else a spare, else one whose start
        is under way (waited for, not started twice; a start still waiting its
        turn is not: see ``Spares.claim_starting``). With tools: a spare or one
        starting (an idle process's hooks and MCP server belong to the
        conversation it was set up for).
        """
        process = self._live.take_reusable(key) if plain else None
        process = process or self._spares.take(key)
        if process is not None:
            return process
        starting = self._spares.claim_starting(key)
        if starting is None:
            return None
        self._stats["waited"] += 1
        try:
            process = await asyncio.shield(starting)
        except asyncio.CancelledError:
            self._spares.unclaim(key, starting)  # the request gave up: the process becomes a spare
            raise
        except Exception as error:  # a failed start: the request starts its own
            logger.warning("a spare Claude Code process failed to start: %s", error)
            return None
        self._stats["started"] += 1
        return process
