"""Preparing a process for a request: a spare initialised, a used one emptied and set, or a new one.

Anything unexpected from the CLI here raises ``ControlError`` (or an SDK
error), and the caller discards the process (fail closed).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import claude_agent_sdk as sdk

from ..request import ChatRequest
from ..translate import tools
from ..translate.ending import DEFERRED_STOP_REASON
from ..translate.params import cli_env
from . import sessions
from .options import build_options
from .process import ControlError, Process, Spec, dispose, log_stderr, pid_of
from .protocols import Client
from .replay import ReplayServer, replayable
from .runner import content_blocks, frames_of, user_message
from .workspace import shared_workdir

Attach = Callable[[Process, sdk.ClaudeAgentOptions, dict[str, Any]], Awaitable[Client]]
Connect = Callable[[sdk.ClaudeAgentOptions], Awaitable[Client]]
Control = Callable[[Client, dict[str, Any]], Awaitable[dict[str, Any]]]


def flag_settings(request: ChatRequest) -> dict[str, Any] | None:
    """``apply_flag_settings`` for the request's controls: what ``--effort`` and their env set at spawn."""
    settings: dict[str, Any] = {}
    env = cli_env(request.controls)
    if env:
        settings["env"] = env
    if request.controls.effort:
        settings["effortLevel"] = request.controls.effort
    return settings or None


def _api_url(request: ChatRequest) -> str:
    """The API the process was started with: the deployment's, the proxy's, or Claude Code's own ("")."""
    return request.account_env.get("ANTHROPIC_BASE_URL") or os.environ.get("ANTHROPIC_BASE_URL", "")


def request_options(request: ChatRequest, cwd: str, resume: str | None = None) -> sdk.ClaudeAgentOptions:
    return build_options(request.plan(cwd, resume), request.settings, stderr=log_stderr)


class Preparation:
    """Sets processes up for requests through the CLI's control requests."""

    def __init__(
        self,
        attach: Attach,
        connect: Connect,
        control: Control,
        clock: Callable[[], float],
        stats: Counter[str],
        replay: ReplayServer | None = None,
    ) -> None:
        """``replay``: where first answers are replayed from (None: histories are only fed)."""
        self._attach, self._connect, self._control = attach, connect, control
        self._clock, self._stats = clock, stats
        self.replay = replay

    async def replay_first(self, process: Process, request: ChatRequest, turns: list[dict[str, Any]]) -> int:
        """Ask an empty process the history's first user turn, answered by its recorded answer.

        How many turns it now holds: 2, or 0 when the history cannot be
        replayed (see ``replay``). Anything unexpected raises ``ControlError``
        (or an SDK error): the process is discarded.
        """
        offered = frozenset(tools.internal_name(f.name) for f in request.controls.tools.offered)
        if self.replay is None or process.first_uuid is not None or not replayable(turns, offered):
            return 0
        assert process.client is not None, "a prepared process is connected"
        client = process.client
        token, url = await self.replay.expect(turns[1]["content"])
        await self._point_api(client, request, url)
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
        await self._point_api(client, request, _api_url(request))
        process.conversations += 1
        process.first_uuid = process.last_uuid = frame["uuid"]
        process.turns, process.marks = [], [frame["uuid"], None]
        self._stats["replayed"] += 1
        return 2

    async def _point_api(self, client: Client, request: ChatRequest, url: str) -> None:
        # apply_flag_settings merges shallowly: "env" replaces the layer's env, so the request's
        # controls (thinking off, max_tokens) go with the URL, or they would be lost.
        settings = {"env": {**cli_env(request.controls), "ANTHROPIC_BASE_URL": url}}
        await self._control(client, {"subtype": "apply_flag_settings", "settings": settings})

    async def prepare(self, process: Process, request: ChatRequest) -> None:
        """Set a process up for the request: initialise a spare, or empty and set a reused one."""
        system = build_options(request.plan(process.cwd, None), request.settings).system_prompt
        if process.client is None:
            extra: dict[str, Any] = {"systemPrompt": [system]}
            if request.controls.tools.offered:
                extra["sdkMcpServers"] = [tools.SERVER]
            options = request_options(request, process.cwd)
            process.client = await self._attach(process, options, extra)
            process.transport = None
            process.reusable = not request.controls.tools.offered
            self._stats["spare"] += 1
        else:
            await self._rewind(process.client, process)
            model = request.model  # the alias or id it was spawned with; "default" for the account's
            changed = await self._control(
                process.client, {"subtype": "set_model", "model": model, "system_prompt": system}
            )
            if not isinstance(changed.get("model"), str):
                raise ControlError(f"set_model answered {changed!r}")
            self._stats["reused"] += 1
        settings = flag_settings(request)
        if settings:
            # Overlays persist into the next conversation: such a process is not reused.
            await self._control(process.client, {"subtype": "apply_flag_settings", "settings": settings})
            process.reusable = False

    async def _rewind(self, client: Client, process: Process) -> None:
        """Empty the process of the conversation it holds (``rewind_conversation``, confirmed)."""
        await self._rewind_to(client, process, process.first_uuid)
        process.emptied()

    async def cut(self, process: Process, keep: int) -> None:
        """Cut the conversation a live process holds back to its first ``keep`` turns (issue 19).

        ``rewind_conversation`` drops the user turn it targets and everything after
        it; what stays is what the process had sent upstream before, so the
        conversation's cached prefix stays valid.
        """
        assert process.client is not None, "a live process is connected"
        await self._rewind_to(process.client, process, process.marks[keep])
        process.cut(keep)

    async def _rewind_to(self, client: Client, process: Process, target: str | None) -> None:
        rewound = await self._control(
            client,
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
        process = Process(
            cwd, request.config_dir, spec.key, self._clock(), idle_timeout=spec.idle_timeout, owns_cwd=False
        )
        try:
            resume = sessions.write_history(turns or [], request.config_dir, cwd)
            if resume is not None:
                process.transcript = sessions.transcript_path(request.config_dir, cwd, resume)
            process.client = await self._connect(request_options(request, cwd, resume))
            process.pid = pid_of(process.client)
            if resume is not None:
                process.resumed(len(turns or []))
        except BaseException:
            await asyncio.shield(dispose(process))
            raise
        self._stats["started"] += 1
        # Its system prompt and controls were given at spawn; set_model sets a
        # new prompt after a rewind as well, but not the controls' environment.
        controls = cli_env(request.controls) or request.controls.effort
        process.reusable = resume is None and not request.controls.tools.offered and not controls
        return process
