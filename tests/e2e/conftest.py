"""Fixtures for end-to-end tests: the mock Anthropic API and the stock proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.anthropic_mock import MockAnthropic

from .harness import Proxy, claude_env, run_proxy


@pytest.fixture(scope="session")
def mock() -> Iterator[MockAnthropic]:
    with MockAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_mock(mock: MockAnthropic) -> None:
    mock.reset()


@pytest.fixture(scope="session")
def proxy_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy-home")


@pytest.fixture(scope="session")
def proxy(mock: MockAnthropic, proxy_home: Path) -> Iterator[Proxy]:
    with run_proxy(proxy_home, claude_env(proxy_home, mock.url)) as running:
        yield running


@pytest.fixture
def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.master_key, max_retries=0, timeout=60)
