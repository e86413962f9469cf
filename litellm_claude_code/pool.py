"""Warm Claude Code sessions: process start-up off the request's critical path.

Two kinds of idle session are kept, both plain connected ``ClaudeSDKClient``s
with their own empty working directory:

* ready: started for a (deployment, model, system prompt, controls)
  combination in recent use, with no conversation yet; a new conversation with
  the same combination takes it instead of starting a process;
* live: the session a conversation just used, keyed by exactly the history it
  holds. The next request whose earlier turns are that history sends only its
  new user turn. Any other history (edited, truncated, different) misses, and
  is served cold from its own transcript, so the model always sees exactly
  what the client sent.

Idle sessions are capped per deployment and closed after ``idle_timeout``;
a session that failed, timed out or was cut short is never reused.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from . import sessions
from .processes import children_in, stop_processes

logger = logging.getLogger(__name__)

Connect = Callable[[Any], Awaitable[Any]]  # options -> connected client
REAP_INTERVAL_SECONDS = 5.0


@dataclass(eq=False)
class Session:
    """One idle or busy Claude Code process and what it is good for."""

    client: Any
    cwd: str
    config_dir: str
    deployment: Hashable
    ready_key: Hashable
    idle_timeout: float = 300.0
    last_used: float = field(default_factory=time.monotonic)


def conversation_key(ready_key: Hashable, turns: list[dict[str, Any]]) -> str:
    """Identity of a session's state: its combination plus every turn it holds."""
    payload = json.dumps([repr(ready_key), turns], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class SessionPool:
    """Idle sessions of all deployments, bounded per deployment."""

    def __init__(self, connect: Connect, clock: Callable[[], float] = time.monotonic) -> None:
        # Sessions belong to the event loop that started them (the proxy has one
        # for its whole life; library callers using asyncio.run get a new pool
        # per loop, see abandon()).
        self.loop = asyncio.get_running_loop()
        self._connect = connect
        self._clock = clock
        self._ready: OrderedDict[Session, None] = OrderedDict()
        self._live: OrderedDict[str, Session] = OrderedDict()
        self._warming: set[Hashable] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        # Idle sessions outlive no proxy: killed and removed when the process exits.
        atexit.register(self.abandon)
        self._reaper: asyncio.Future[Any] | None = None

    # -- taking ---------------------------------------------------------------

    def take_live(self, key: str) -> Session | None:
        """The session holding exactly this conversation, if still idle."""
        return self._live.pop(key, None)

    def take_ready(self, ready_key: Hashable) -> Session | None:
        for session in self._ready:
            if session.ready_key == ready_key:
                del self._ready[session]
                return session
        return None

    # -- giving back ----------------------------------------------------------

    def keep_live(self, key: str, session: Session, capacity: int) -> None:
        """Keep a session after a clean turn, for the conversation's next one."""
        session.last_used = self._clock()
        self._live[key] = session
        self._live.move_to_end(key)
        self._trim(session.deployment, capacity)
        self._start_reaper()

    def warm(self, template: Session, make_options: Callable[[], Any], capacity: int) -> None:
        """Start a ready session like ``template`` (a combination in use), in the background."""
        key = template.ready_key
        if capacity <= 0 or key in self._warming or any(s.ready_key == key for s in self._ready):
            return
        if self._idle_count(template.deployment) >= capacity and not self._evict_live(template.deployment):
            return
        self._warming.add(key)
        self._spawn(self._start_ready(template, make_options(), capacity))

    async def _start_ready(self, template: Session, options: Any, capacity: int) -> None:
        try:
            client = await self._connect(options)
        except Exception as error:  # a warm-up failure only costs the next request its head start
            logger.warning("could not start a ready Claude Code session: %s", error)
            shutil.rmtree(options.cwd, ignore_errors=True)
            return
        finally:
            self._warming.discard(template.ready_key)
        session = Session(
            client,
            str(options.cwd),
            template.config_dir,
            template.deployment,
            template.ready_key,
            template.idle_timeout,
            self._clock(),
        )
        if self._idle_count(session.deployment) >= capacity and not self._evict_live(session.deployment):
            await close_session(session)
            return
        self._ready[session] = None
        self._start_reaper()

    # -- bounds ---------------------------------------------------------------

    def _idle(self, deployment: Hashable) -> list[Session]:
        return [s for s in [*self._ready, *self._live.values()] if s.deployment == deployment]

    def _idle_count(self, deployment: Hashable) -> int:
        return len(self._idle(deployment))

    def _evict_live(self, deployment: Hashable) -> bool:
        """Make room for a ready session: a combination in use serves every new
        conversation, an old live session only its own next turn."""
        live = sorted((s for s in self._live.values() if s.deployment == deployment), key=lambda s: s.last_used)
        if not live:
            return False
        self._discard(live[0])
        return True

    def _trim(self, deployment: Hashable, capacity: int) -> None:
        idle = sorted(self._idle(deployment), key=lambda s: s.last_used)
        for session in idle[: max(0, len(idle) - capacity)]:  # least recently used first
            self._discard(session)

    def expire(self) -> int:
        """Close every idle session unused for longer than its idle timeout."""
        now = self._clock()
        stale = [s for s in [*self._ready, *self._live.values()] if now - s.last_used > s.idle_timeout]
        for session in stale:
            self._discard(session)
        return len(stale)

    def _discard(self, session: Session) -> None:
        self._forget(session)
        self._spawn(close_session(session))

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        while self.idle_sessions:
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            self.expire()

    def _forget(self, session: Session) -> None:
        self._ready.pop(session, None)
        for key in [k for k, s in self._live.items() if s is session]:
            del self._live[key]

    @property
    def idle_sessions(self) -> int:
        return len(self._ready) + len(self._live)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def abandon(self) -> None:
        """Kill every idle session without its event loop (gone, or exiting)."""
        for session in [*self._ready, *self._live.values()]:
            self._forget(session)
            kill_now(session)

    async def close_all(self) -> None:
        for session in [*self._ready, *self._live.values()]:
            self._forget(session)
            await close_session(session)


async def close_session(session: Session) -> None:
    """Stop the process at once and remove its directory and session files."""
    await stop_processes(session.cwd)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(session.client.disconnect(), timeout=5)
    sessions.remove_project(session.config_dir, session.cwd)
    shutil.rmtree(session.cwd, ignore_errors=True)


def kill_now(session: Session) -> None:
    """Synchronous last resort: SIGKILL the session's process, remove its files."""
    for pid in children_in(session.cwd):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    sessions.remove_project(session.config_dir, session.cwd)
    shutil.rmtree(session.cwd, ignore_errors=True)
