"""The soak, bounded (issue 28): long agent sessions at once must never take the proxy down.

Three sessions at once (streamed, whole, alternating) of tool rounds with 3 kB
results, streamed rounds cut mid-answer and sent again, for about a minute on a
proxy of this module's own. Any end of the proxy fails the test with how it ended
and its log (faulthandler's Python stack on a crash). The long form is ``scripts/soak``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy, module_proxy
from .soak import Plan, Soak

pytestmark = pytest.mark.e2e

proxy = module_proxy("soak", "a proxy of its own: the soak must see this proxy's life, not one other tests share")


def test_long_agent_sessions_at_once_do_not_crash_the_proxy(proxy: Proxy, mock: MockAnthropic) -> None:
    plan = Plan(sessions=3, rounds=12, disconnect_every=4, seconds=45)
    tally = asyncio.run(Soak(proxy, mock, plan).run())
    assert tally.crash is None, f"{tally.crash} after {tally.line()}:\n{proxy.log_tail()}"
    assert tally.errors == [], tally.line()
    assert proxy.process.poll() is None, proxy.log_tail()
    # Every session ran to its answer, through whole, streamed and cut rounds.
    assert tally.sessions_done == tally.sessions_started >= 3, tally.line()
    assert tally.whole > 0, tally.line()
    assert tally.streamed > 0, tally.line()
    assert tally.disconnects > 0, tally.line()
