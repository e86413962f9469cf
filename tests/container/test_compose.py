"""`docker compose up` as a user runs it: the image built from the repository's Dockerfile and the
stack from its docker-compose.yml, with .env written from .env.example, answering on loopback.

Base images cannot be pulled on our machines: scripts/docker-standins builds offline stand-ins
under the official tags (cached between runs). Every container runs on the host's network (the
test's override, host-network.yml), so every connection here is on 127.0.0.1: the mock Anthropic
API and the clients stay on the host. Prisma's schema engine is among what cannot be downloaded,
so LiteLLM's migrations are applied with offline-prisma/migrate before the proxy starts (with
internet, stock Prisma in the image does this at start-up).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import psycopg2
import pytest
import yaml

from tests.anthropic_mock import MockAnthropic
from tests.e2e.harness import ROOT, free_port
from tests.waiting import TimedOut, wait_until

from .engine import Engine, NoEngine, compose_command, ensure_engine

pytestmark = pytest.mark.timeout(1800)  # the first test builds the image (minutes on 2 cores)

OFFLINE_PRISMA = Path(os.environ.get("OFFLINE_PRISMA_DIR", ROOT.parent / "shared" / "offline-prisma"))
OVERRIDE = Path(__file__).with_name("host-network.yml")
TOKEN = f"sk-ant-oat01-container-{secrets.token_hex(8)}"
HEALTHY_WITHIN = 240.0  # the healthcheck's first probe comes 30 s after a start (its interval)


@dataclass
class Stack:
    """The compose project under test and what the test needs to reach it."""

    checkout: Path
    project: str
    command: list[str]
    env: dict[str, str]
    proxy_url: str
    db_port: int
    master_key: str
    db_password: str
    build_seconds: float = 0.0
    up_seconds: float = 0.0
    keys: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # timings and sizes, printed by the last test
    rendered: Path | None = None  # docker-compose.yml with the override, resolved by compose itself

    def render(self, into: Path) -> None:
        """The project as compose resolves the two files, less the proxy's published port.

        On the host's network a published port means nothing, and Compose v1 refuses the
        combination; an override cannot remove a list entry in v1 (v2 has !reset), so the
        port is dropped from compose's own resolution of the files.
        """
        resolved = yaml.safe_load(self.must("config"))
        assert resolved["services"]["proxy"].pop("ports"), "the compose file no longer publishes the proxy's port"
        into.write_text(yaml.safe_dump(resolved, sort_keys=False))
        self.rendered = into

    def compose(self, *args: str, stdin: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        files = ["-f", str(self.rendered)] if self.rendered else ["-f", "docker-compose.yml", "-f", str(OVERRIDE)]
        return subprocess.run(
            [*self.command, "--project-directory", str(self.checkout), "-p", self.project, *files, *args],
            cwd=self.checkout,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def must(self, *args: str, stdin: str | None = None, timeout: float = 600) -> str:
        done = self.compose(*args, stdin=stdin, timeout=timeout)
        said = f"compose {' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        assert done.returncode == 0, said
        return done.stdout

    def container(self, service: str) -> str:
        return self.must("ps", "-q", service).strip()

    def inspect(self, target: str, template: str) -> str:
        done = subprocess.run(["docker", "inspect", "-f", template, target], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def logs(self, service: str = "proxy") -> str:
        done = self.compose("logs", "--no-color", "--tail", "80", service, timeout=60)
        return done.stdout + done.stderr

    def wait_healthy(self, service: str, within: float = HEALTHY_WITHIN) -> float:
        """Seconds until ``service``'s container reports healthy by its own healthcheck."""
        start = time.monotonic()
        status = ["no container"]

        def healthy() -> bool:
            container = self.container(service)
            if not container:
                return False
            status[0] = self.inspect(container, "{{.State.Status}} {{.State.Health.Status}}")
            assert not status[0].startswith(("exited", "dead")), f"{service}: {status[0]}\n{self.logs(service)}"
            return status[0] == "running healthy"

        try:
            wait_until(healthy, within, f"{service} to be healthy", interval=1)
        except TimedOut:
            pytest.fail(f"{service} not healthy within {within:.0f}s ({status[0]}):\n{self.logs(service)}")
        return time.monotonic() - start

    def exec(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", "proxy", *args, stdin=stdin, timeout=120)

    def db(self) -> Any:
        return psycopg2.connect(
            host="127.0.0.1",
            port=self.db_port,
            user="litellm",
            password=self.db_password,
            dbname="litellm",
            connect_timeout=5,
        )

    @property
    def image(self) -> str:
        return self.inspect(self.container("proxy"), "{{.Image}}")


def _checkout(into: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored): the build context."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def _user_env_file(checkout: Path, master_key: str, db_password: str, upstream: str) -> None:
    """`cp .env.example .env`, then the values a user fills in (the upstream: the mock on the host)."""
    lines = []
    for line in (checkout / ".env.example").read_text().splitlines():
        if line == "LITELLM_MASTER_KEY=":
            line = f"LITELLM_MASTER_KEY={master_key}"
        elif line == "POSTGRES_PASSWORD=":
            line = f"POSTGRES_PASSWORD={db_password}"
        elif line == "# ANTHROPIC_BASE_URL=":
            line = f"ANTHROPIC_BASE_URL={upstream}"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    for value in (master_key, db_password, upstream):
        assert value in text, f".env.example no longer has the line for {value!r}"
    (checkout / ".env").write_text(text)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    try:
        running = ensure_engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
    except NoEngine as why:
        pytest.skip(f"no Docker engine can run here: {why}")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stack(engine: Engine, mock: MockAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not os.access(OFFLINE_PRISMA / "migrate", os.X_OK):
        pytest.skip(f"needs offline-prisma at {OFFLINE_PRISMA} (Prisma's engines cannot be downloaded here)")
    command = compose_command()
    assert command is not None
    env = {**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0", "VENV": sys.prefix}
    started = time.monotonic()
    done = subprocess.run([str(ROOT / "scripts" / "docker-standins")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    standins = f"stand-ins ready in {time.monotonic() - started:.0f}s ({'; '.join(done.stderr.strip().splitlines())})"

    checkout = _checkout(tmp_path_factory.mktemp("checkout"))
    master_key, db_password = f"sk-{secrets.token_urlsafe(24)}", secrets.token_urlsafe(18)
    _user_env_file(checkout, master_key, db_password, mock.url)
    db_port, proxy_port = free_port(), free_port()
    env.update({"CONTAINER_TEST_DB_PORT": str(db_port), "CONTAINER_TEST_PROXY_PORT": str(proxy_port)})
    running = Stack(
        checkout=checkout,
        project=f"lcctest{secrets.token_hex(4)}",
        command=command,
        env=env,
        proxy_url=f"http://127.0.0.1:{proxy_port}",
        db_port=db_port,
        master_key=master_key,
        db_password=db_password,
    )
    running.render(tmp_path_factory.mktemp("compose") / "compose.yml")
    before = _images()
    try:
        started = time.monotonic()
        # Compose v1: a failed step leaves no container (v2's builder leaves none anyway).
        force_rm = ["--force-rm"] if command[-1].endswith("docker-compose") else []
        running.must("build", *force_rm, timeout=1500)
        running.build_seconds = time.monotonic() - started
        started = time.monotonic()
        running.must("up", "-d", "db")
        running.wait_healthy("db")
        database = f"postgresql://litellm:{db_password}@127.0.0.1:{db_port}/litellm"
        migrated = subprocess.run(
            [str(OFFLINE_PRISMA / "migrate"), "--venv", sys.prefix, database], capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        running.must("up", "-d")
        running.wait_healthy("proxy")
        running.up_seconds = time.monotonic() - started
        running.notes += [
            standins,
            f"image built in {running.build_seconds:.0f}s",
            f"up and healthy in {running.up_seconds:.0f}s",
        ]
        yield running
    finally:
        down = running.compose("down", "--volumes", "--rmi", "local", "--timeout", "20", timeout=300)
        print(down.stdout + down.stderr)
        # The build stage's layers too (untagged once the image is gone): each run builds from
        # scratch, as on a new machine, and leaves only the cached stand-ins behind.
        left = sorted(_images(dangling=True) - before)
        if left:
            subprocess.run(["docker", "rmi", *left], capture_output=True)


def _images(dangling: bool = False) -> set[str]:
    """The ids of the engine's images (all, or the untagged ones only)."""
    command = ["docker", "images", "-aq", "--no-trunc", *(["--filter", "dangling=true"] if dangling else [])]
    listed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return set(listed.split())


def _chat(stack: Stack, key: str, model: str = "sonnet") -> str:
    client = openai.OpenAI(base_url=f"{stack.proxy_url}/v1", api_key=key, timeout=120, max_retries=0)
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello."}], stream=True
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def _secrets(stack: Stack) -> list[str]:
    return [stack.master_key, stack.db_password, TOKEN]


def test_proxy_is_healthy_non_root_and_reaches_its_database(stack: Stack) -> None:
    container = stack.container("proxy")
    assert stack.inspect(container, "{{.State.Health.Status}}") == "healthy"
    assert stack.inspect(container, "{{.Config.User}}") == "10001"
    assert stack.exec("id", "-u").stdout.strip() == "10001"
    # The proxy itself (PID 1 after the entrypoint's exec) runs as 10001 too.
    status = stack.exec("cat", "/proc/1/status").stdout
    assert [line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")] == [["10001"] * 4]
    readiness = httpx.get(f"{stack.proxy_url}/health/readiness", timeout=30)
    assert readiness.status_code == 200, readiness.text
    assert readiness.json()["db"] == "connected", readiness.text
    with stack.db() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        assert cursor.fetchone() == ("litellm", "litellm")


def test_login_status_then_token_stored_in_the_volume(stack: Stack) -> None:
    before = stack.exec("scripts/authenticate-claude.sh", "status")
    assert before.returncode == 1, before.stdout + before.stderr
    assert "not logged in" in before.stderr
    stored = stack.exec("scripts/authenticate-claude.sh", "token", stdin=TOKEN + "\n")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    after = stack.exec("scripts/authenticate-claude.sh", "status")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "logged in" in after.stdout
    for output in (before, stored, after):
        for secret in _secrets(stack):
            assert secret not in output.stdout + output.stderr
    # In the credentials volume, readable by the app user only.
    mode = stack.exec("stat", "-c", "%a %u", "/home/app/.claude/oauth-token.env").stdout.split()
    assert mode == ["600", "10001"]
    assert "/home/app/.claude" in stack.inspect(stack.container("proxy"), "{{range .Mounts}}{{.Destination}} {{end}}")

    stack.must("restart", "proxy")
    stack.wait_healthy("proxy")
    # The entrypoint's report after the restart: the token read from the volume into its environment.
    assert "logged in: CLAUDE_CODE_OAUTH_TOKEN is set" in stack.logs()


def test_key_streamed_chat_refused_model_and_spend_in_postgres(stack: Stack, mock: MockAnthropic) -> None:
    admin = {"Authorization": f"Bearer {stack.master_key}"}
    for name, models in (("sonnet", ["sonnet"]), ("haiku", ["haiku"])):
        made = httpx.post(f"{stack.proxy_url}/key/generate", headers=admin, json={"models": models}, timeout=60)
        assert made.status_code == 200, made.text
        stack.keys[name] = made.json()["key"]

    assert _chat(stack, stack.keys["sonnet"]) == "Hello from the mock."
    assert mock.requests, "the container's Claude Code never reached the mock on the host"
    assert mock.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"  # the stored login, after the restart

    with pytest.raises(openai.APIStatusError) as refused:
        _chat(stack, stack.keys["haiku"], model="sonnet")
    assert refused.value.status_code in (401, 403), refused.value
    assert "sonnet" in str(refused.value)

    hashed = hashlib.sha256(stack.keys["sonnet"].encode()).hexdigest()
    seen = [(0.0, 0)]  # the key's spend, its spend log rows with spend: written by the proxy in batches

    def written() -> bool:
        with stack.db() as connection, connection.cursor() as cursor:
            cursor.execute('SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = %s', (hashed,))
            row = cursor.fetchone()
            cursor.execute('SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE api_key = %s AND spend > 0', (hashed,))
            seen[0] = (float(row[0]) if row else 0.0, int(cursor.fetchone()[0]))
        return seen[0][0] > 0 and seen[0][1] > 0

    with contextlib.suppress(TimedOut):
        wait_until(written, 90, "the key's spend in PostgreSQL", interval=1)
    spend, logged = seen[0]
    assert spend > 0, f"no spend in PostgreSQL for the key (spend log rows: {logged})"
    assert logged > 0, f"no spend log row in PostgreSQL for the key (key spend: {spend})"


def _still_works(stack: Stack, mock: MockAnthropic) -> None:
    stack.wait_healthy("proxy")
    status = stack.exec("scripts/authenticate-claude.sh", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert _chat(stack, stack.keys["sonnet"]) == "Hello from the mock."
    assert mock.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_restart_keeps_key_and_login(stack: Stack, mock: MockAnthropic) -> None:
    assert stack.keys, "needs the key made by the test before"
    started = time.monotonic()
    stack.must("restart", "proxy")
    stack.notes.append(f"proxy restarted in {time.monotonic() - started:.1f}s")
    _still_works(stack, mock)


def test_down_then_up_keeps_key_and_login(stack: Stack, mock: MockAnthropic) -> None:
    assert stack.keys, "needs the key made by the test before"
    container = stack.container("proxy")
    started = time.monotonic()
    stack.must("stop", "proxy")  # within the compose file's stop_grace_period
    stack.notes.append(f"proxy stopped in {time.monotonic() - started:.1f}s")
    # Ended by its SIGTERM, not killed (137) when the stop timeout ran out.
    assert stack.inspect(container, "{{.State.ExitCode}}") != "137", stack.logs()
    stack.must("down")
    assert stack.container("proxy") == ""
    stack.must("up", "-d")
    _still_works(stack, mock)


def test_image_has_no_secret_and_no_test_file(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    image = stack.image
    size = int(stack.inspect(image, "{{.Size}}"))
    stack.notes.append(f"image {image[:19]}: {size / 1e6:.0f} MB")
    with capsys.disabled():  # in the CI log too, where pytest captures what passing tests print
        print("\ncontainer test: " + "; ".join(stack.notes))
    config = stack.inspect(image, "{{json .Config}}")
    created = subprocess.run(["docker", "create", image], capture_output=True, text=True, check=True).stdout.strip()
    try:
        with subprocess.Popen(["docker", "export", created], stdout=subprocess.PIPE) as export:
            assert export.stdout is not None
            names, leaks = _scan(export.stdout, [s.encode() for s in _secrets(stack)])
    finally:
        # -v: the anonymous volume that the image's VOLUME gave the container goes with it.
        subprocess.run(["docker", "rm", "-v", created], capture_output=True, check=True)
    assert not leaks, f"secrets in the image: {leaks}"
    for secret in _secrets(stack):
        assert secret not in config
    app = {name for name in names if name.startswith("app/")}
    assert "app/custom_handler.py" in app  # the scan saw the product's files
    assert "app/scripts/docker-entrypoint.sh" in app
    test_only = [
        name
        for name in app
        if name.startswith(("app/tests", "app/.env", "app/.git", "app/.ci")) or "anthropic_mock" in name
    ]
    test_only += [name for name in names if name.endswith("host-network.yml")]
    assert test_only == []


def _scan(stream: Any, needles: list[bytes]) -> tuple[set[str], list[str]]:
    """The member names of an exported file system (a tar stream) and the files holding a needle."""
    names: set[str] = set()
    leaks: list[str] = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            names.add(member.name.lstrip("./"))
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            leaks += [f"{member.name}" for needle in needles if needle in data]
    return names, leaks
