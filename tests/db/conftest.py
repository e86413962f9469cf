"""Fixtures for tests of the proxy with its PostgreSQL database (virtual keys, budgets, spend).

Prisma's native engines cannot be downloaded on our machines, so the proxy runs its
database layer through offline-prisma (``../shared/offline-prisma``, see its README):
``setup`` generates the Prisma client for this venv, ``env.sh`` points Prisma at the
shim and ``migrate`` applies LiteLLM's migrations. That tool belongs to the tests
only; the product keeps stock Prisma. Without the tool or PostgreSQL the tests skip.

Each test run gets a fresh database ``litellm_test_<random>``, dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import litellm
import psycopg2
import pytest
import yaml
from psycopg2 import sql

from tests.anthropic_mock import MockAnthropic, Reply
from tests.e2e.conftest import _fresh_mock, mock  # noqa: F401 - fixtures, used by name
from tests.e2e.harness import CONFIG, ROOT, Proxy, claude_env, run_proxy
from tests.waiting import wait_until

OFFLINE_PRISMA = Path(os.environ.get("OFFLINE_PRISMA_DIR", ROOT.parent / "shared" / "offline-prisma"))
PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
NO_PRISMA = "needs PostgreSQL through Prisma: offline-prisma not found and Prisma engines cannot be downloaded here"

# How often the proxy writes spend to the database in these tests (LiteLLM's default is
# about 10 s); tests poll with a deadline rather than sleeping.
BATCH_WRITE_SECONDS = 1


def _admin_connection() -> Any:
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3)
    connection.autocommit = True
    return connection


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run an offline-prisma step; a failure fails the tests with what the step said."""
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _offline_prisma_env() -> dict[str, str]:
    """The variables ``env.sh`` exports after ``setup`` for this interpreter's venv."""
    line = _run([str(OFFLINE_PRISMA / "setup"), sys.prefix]).strip()

    def dump(script: str) -> dict[str, str]:
        return dict(item.split("=", 1) for item in _run(["bash", "-c", script]).split("\0") if "=" in item)

    before, after = dump("env -0"), dump(f"{line} && env -0")
    return {key: value for key, value in after.items() if before.get(key) != value and key not in ("_", "SHLVL")}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, empty database for this test run, dropped at its end."""
    if not os.access(OFFLINE_PRISMA / "setup", os.X_OK):
        pytest.skip(NO_PRISMA)
    try:
        admin = _admin_connection()
    except psycopg2.OperationalError as error:
        pytest.skip(f"needs PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}): {str(error).strip().splitlines()[0]}")
    name = f"litellm_test_{secrets.token_hex(6)}"
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture(scope="session")
def db_env(database_url: str) -> dict[str, str]:
    """What a proxy needs to use the test database (migrated here): DATABASE_URL and the Prisma shim."""
    env = _offline_prisma_env()
    _run([str(OFFLINE_PRISMA / "migrate"), "--venv", sys.prefix, database_url], env={**os.environ, **env})
    return {**env, "DATABASE_URL": database_url}


def derived_config(path: Path, tweak: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The repo's config with spend written to the database every second (plus ``tweak``)."""
    config = yaml.safe_load(CONFIG.read_text())
    config.setdefault("general_settings", {})["proxy_batch_write_at"] = BATCH_WRITE_SECONDS
    if tweak is not None:
        tweak(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def list_price(reply: Reply, model: str | Mapping[str, float]) -> float:
    """What ``reply``'s usage costs at ``model``'s list prices (LiteLLM's cost map), or at given prices."""
    prices = litellm.model_cost[model] if isinstance(model, str) else model
    return float(
        reply.input_tokens * prices["input_cost_per_token"]
        + reply.output_tokens * prices["output_cost_per_token"]
        + reply.cache_read_input_tokens * prices["cache_read_input_token_cost"]
        + reply.cache_creation_input_tokens * prices["cache_creation_input_token_cost"]
    )


def admin_headers(master_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {master_key}"}


def generate_key(url: str, master_key: str, **fields: Any) -> str:
    """A new virtual key made with the master key through ``POST /key/generate``."""
    response = httpx.post(f"{url}/key/generate", headers=admin_headers(master_key), json=fields, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def key_info(url: str, master_key: str, key: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/key/info", params={"key": key}, headers=admin_headers(master_key), timeout=30)
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()["info"]
    return info


def spend_logs(url: str, master_key: str, key: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/spend/logs", params={"api_key": key}, headers=admin_headers(master_key), timeout=30)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def wait_for(check: Callable[[], Any], what: str, within: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``within`` s."""
    return wait_until(check, within, what, interval=0.25)


@pytest.fixture(scope="module")
def db_proxy(
    mock: MockAnthropic,  # noqa: F811 - the fixture imported above
    db_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """One stock proxy on the test database, shared by a module's tests."""
    home = tmp_path_factory.mktemp("db-proxy")
    config = derived_config(home / "litellm_config.yaml")
    with run_proxy(home, {**claude_env(home, mock.url), **db_env}, config) as running:
        yield running
