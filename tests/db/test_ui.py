"""The admin UI in a real browser: log in with the master key, see a key and what it spent.

Headless Debian Chromium driven by Playwright; skipped, with the reason, where either is absent
(CI installs Chromium: see .ci/run).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.anthropic_mock import MockAnthropic, Reply
from tests.e2e.harness import Proxy

from .conftest import generate_key, key_info, wait_for

pytestmark = [pytest.mark.db, pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ALIAS = "ui-browser-test-key"


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright (requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _spend_something(proxy: Proxy, mock: MockAnthropic) -> tuple[str, float]:
    """A key made through the API, one request on it, its spend once written to the database."""
    key = generate_key(proxy.url, proxy.master_key, key_alias=ALIAS, models=["sonnet"])
    mock.script(Reply(chunks=["Spent."], input_tokens=100_000, output_tokens=20_000))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0, timeout=60)
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "spend"}])
    spend = wait_for(lambda: key_info(proxy.url, proxy.master_key, key)["spend"], "the key's spend in the database")
    return key, float(spend)


def test_admin_ui_shows_the_key_and_its_spend(
    db_proxy: Proxy, mock: MockAnthropic, browser: Any, tmp_path: Path
) -> None:
    key, spend = _spend_something(db_proxy, mock)
    assert spend > 0.1  # 100k input + 20k output tokens at Sonnet's list prices
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{db_proxy.url}/ui/", wait_until="networkidle")
    page.get_by_placeholder("Enter your username").fill("admin")
    page.get_by_placeholder("Enter your password").fill(db_proxy.master_key)
    page.get_by_role("button", name="Login", exact=True).click()
    page.get_by_text("Virtual Keys", exact=True).first.click()
    row = page.get_by_role("row").filter(has_text=ALIAS)
    row.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "admin-ui-keys.png"), full_page=True)
    text = row.inner_text()
    assert f"${spend:.4f}" in text, text  # the key's lifetime spend, as the UI formats it
    assert key not in page.content()  # the UI shows an abbreviation, never the whole key
    assert (tmp_path / "admin-ui-keys.png").stat().st_size > 10_000
