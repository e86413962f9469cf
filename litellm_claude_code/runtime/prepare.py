"""Preparing a process for a request: a spare initialised, a used one emptied and set, or a new one.

Anything unexpected from the CLI here raises ``ControlError`` (or an SDK
error), and the caller discards the process (fail closed).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any

import claude_agent_sdk as sdk

from ..request import ChatRequest
from ..sdk_seam import ControlError
from ..translate import tools
from ..translate.ending import DEFERRED_STOP_REASON
from ..translate.params import cli_env
from ..translate.prompt import content_blocks
from . import sessions
from .forwarder import ANTHROPIC_API, Forwarder, Route
from .frames import frames_of, user_message
from .options import build_options, flag_settings, plan, request_options
from .process import Process, Processes, Spec
from .replay import ReplayServer, replayable
from .workspace import shared_workdir

logger = logging.getLogger(__name__)


def _api_url(request: ChatRequest) -> str:
    """The API the process was started with: the deployment's, the proxy's, or Claude Code's own ("")."""
    return request.account_env.get("ANTHROPIC_BASE_URL") or os.environ.get("ANTHROPIC_BASE_URL", "")


class Preparation:
    """Sets processes up for requests through the CLI's control requests."""

    def __init__(
        self,
        processes: Processes,
        stats: Counter[str],
        replay: ReplayServer | None = None,
        forwarder: Forwarder | None = None,
    ) -> None:
        """``replay``: where first answers are replayed from (None: histories are only fed);
        ``forwarder``: what a searched request's process talks to its API through (None: directly)."""
        self.processes, self._stats = processes, stats
        self.replay, self.forwarder = replay, forwarder

    async def replay_first(self, process: Process, request: ChatRequest, turns: list[dict[str, Any]]) -> int:
        """Ask an empty process the history's first user turn, answered by its recorded answer.

        How many turns it now holds: 2, or 0 when the history cannot be
        replayed (see ``replay``). Anything unexpected raises ``ControlError``
        (or an SDK error): the process is discarded.
        """
        offered = frozenset(request.controls.tools.cli_names)
        if self.replay is None or process.first_uuid is not None or not replayable(turns, offered):
            return 0
        assert process.client is not None, "a prepared process is connected"
        client = process.client
        token, url = await self.replay.expect(turns[1]["content"])
        await self._point_api(process, request, url)
        try:
            frame = user_message(content_blocks(turns[0].get("content")))
            await client.query(frames_of(frame))
            async for message in client.receive_response():
                if isinstance(message, sdk.ResultMessage) and (
                    message.is_error or message.stop_reason not in ("end_turn", DEFERRED_STOP_REASON)
                ):
                    raise ControlError(f"the replayed first turn ended with {message.subtype} {message.stop_reason}")
        finally:
            self.replay.forget(token)
        await self._point_api(process, request, process.route.url if process.route else _api_url(request))
        process.replayed(frame)
        self._stats["replayed"] += 1
        return 2

    async def _point_api(self, process: Process, request: ChatRequest, url: str) -> None:
        # apply_flag_settings merges shallowly: "env" replaces the layer's env, so the request's
        # controls (thinking off, max_tokens) go with the URL, or they would be lost.
        settings = {"env": {**cli_env(request.controls), "ANTHROPIC_BASE_URL": url}}
        await process.control({"subtype": "apply_flag_settings", "settings": settings})

    async def prepare(self, process: Process, request: ChatRequest) -> None:
        """Set a process up for the request: initialise a spare, or empty and set a reused one."""
        system = build_options(plan(request, process.cwd), request.settings).system_prompt
        if process.client is None:
            extra: dict[str, Any] = {"systemPrompt": [system]}
            if request.controls.tools.offered:
                extra["sdkMcpServers"] = [tools.SERVER]
            await process.attach(request_options(request, process.cwd), extra)
            process.reusable = not request.controls.tools.offered
            self._stats["spare"] += 1
        else:
            await self._rewind(process)
            model = request.model  # the alias or id it was spawned with; "default" for the account's
            changed = await process.control({"subtype": "set_model", "model": model, "system_prompt": system})
            if not isinstance(changed.get("model"), str):
                raise ControlError(f"set_model answered {changed!r}")
            self._stats["reused"] += 1
        settings = flag_settings(request)
        if settings:
            # Overlays persist into the next conversation: such a process is not reused.
            await process.control({"subtype": "apply_flag_settings", "settings": settings})
            process.reusable = False

    async def _rewind(self, process: Process) -> None:
        """Empty the process of the conversation it holds (``rewind_conversation``, confirmed)."""
        await self._rewind_to(process, process.first_uuid)
        process.emptied()

    async def cut(self, process: Process, keep: int) -> None:
        """Cut the conversation a live process holds back to its first ``keep`` turns (issue 19).

        ``rewind_conversation`` drops the user turn it targets and everything after
        it; what stays is what the process had sent upstream before, so the
        conversation's cached prefix stays valid.
        """
        await self._rewind_to(process, process.marks[keep])
        process.cut(keep)

    async def _rewind_to(self, process: Process, target: str | None) -> None:
        rewound = await process.control(
            {
                "subtype": "rewind_conversation",
                "target_message_uuid": target,
                "last_seen_user_message_uuid": process.last_uuid,
            },
        )
        if rewound.get("rewound") is not True:
            raise ControlError(f"rewind_conversation answered {rewound!r}")

    async def cold(self, request: ChatRequest, spec: Spec, turns: list[dict[str, Any]] | None) -> Process:
        """A process started for this request alone, with all its options (resuming ``turns``)."""
        cwd = shared_workdir(request.settings.work_root)
        resume = sessions.write_history(turns or [], request.config_dir, cwd)
        transcript = sessions.transcript_path(request.config_dir, cwd, resume) if resume is not None else None
        route = await self._route(request)
        options = request_options(request, cwd, resume, route.url if route is not None else None)
        process = await self.processes.start(options, spec, transcript, route)
        if resume is not None:
            process.resumed(len(turns or []))
        self._stats["started"] += 1
        # Its system prompt and controls were given at spawn; set_model sets a
        # new prompt after a rewind as well, but not the controls' environment.
        controls = cli_env(request.controls) or request.controls.effort
        process.reusable = resume is None and not request.controls.tools.offered and not controls
        return process

    async def _route(self, request: ChatRequest) -> Route | None:
        """A searched request's way to its API through the forwarder, which keeps the search answers;
        None for any other request, or when the forwarder cannot start (the answer then says so if
        it needs them: ``translate.search.SearchBlocks``)."""
        if request.controls.search is None or self.forwarder is None:
            return None
        try:
            return await self.forwarder.route(_api_url(request) or ANTHROPIC_API)
        except OSError as error:
            logger.warning("the search forwarder could not start: %s", error)
            return None
