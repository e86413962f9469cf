"""Fixtures for end-to-end tests: the mock Anthropic API and the stock proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import openai
import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy, claude_env, run_proxy


@pytest.fixture(scope="session")
def mock() -> Iterator[MockAnthropic]:
    with MockAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_mock(mock: MockAnthropic) -> Iterator[None]:
    mock.reset()
    yield
    # Claude Code never compacts a client's conversation (issue 27): its summary prompt
    # reaching the model, in any test, is a summary the client never sent.
    summaries = [r for r in mock.requests if r.asks_for_summary()]
    assert summaries == [], f"{len(summaries)} requests carried Claude Code's summary prompt"


class SharedProxy:
    """The proxy most tests share, started on first use and again if one has ended.

    A proxy that dies fails the test it died in (at that test's teardown, with
    how it ended and its log), and the tests after it get a new one instead of
    failing on a refused connection.
    """

    def __init__(self, mock: MockAnthropic, homes: pytest.TempPathFactory, stack: ExitStack) -> None:
        self._mock, self._homes, self._stack = mock, homes, stack
        self._running: Proxy | None = None

    def running(self) -> Proxy:
        if self._running is None or self._running.process.poll() is not None:
            home = self._homes.mktemp("proxy-home")
            self._running = self._stack.enter_context(run_proxy(home, claude_env(home, self._mock.url)))
        return self._running


@pytest.fixture(scope="session")
def shared_proxy(mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedProxy]:
    with ExitStack() as stack:
        yield SharedProxy(mock, tmp_path_factory, stack)


@pytest.fixture
def proxy(shared_proxy: SharedProxy) -> Iterator[Proxy]:
    running = shared_proxy.running()
    yield running
    if running.process.poll() is not None:
        pytest.fail(f"the shared proxy ended during this test ({running.ended()}):\n{running.log_tail()}")


@pytest.fixture
def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.master_key, max_retries=0, timeout=60)
