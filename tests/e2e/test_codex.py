"""Codex CLI (``@openai/codex``) against the real proxy, SDK and Claude Code CLI (issue 13).

Codex is installed by npm into a cache directory of its own
(``~/.cache/litellm-claude-code/clients/codex-<version>/``, the npm package carries
its native binary), never into the project's environment; an install failure fails
the tests with npm's output. ``codex exec`` runs non-interactively with a
temporary ``HOME`` and ``CODEX_HOME`` holding the ``config.toml`` below, no
standard input, a timeout, and every outside connection sent to a loopback port
that refuses it.

What Codex 0.171.0 sends on ``/v1/responses`` with a custom provider and a model
it has no metadata for (``sonnet``): function tools (``exec_command``, its shell
tool, taking ``{"cmd": "<shell command>", ...}``; ``write_stdin``,
``request_user_input``, ``view_image``, ``get_goal``, ``create_goal``,
``update_goal``), a ``namespace`` tool ``multi_agent_v1`` of five functions
(LiteLLM's adapter flattens it into ``multi_agent_v1__<name>`` functions) and a
``web_search`` tool (answered by Claude's own search, which runs each request
in a fresh process: test_search.py). No ``apply_patch``, no ``local_shell``.
The configuration here turns off the last two (``web_search = "disabled"``,
``agents.enabled = false``), so every tool Codex sends is a plain function that
reaches the model as it was sent; the web search tests at the end leave search
on (SEARCH_CONFIG).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.anthropic_mock import Gate, MockAnthropic, Recorded, Reply

from .client_kit import CACHE, RUN_TIMEOUT, npm_install, offline_env, run
from .harness import Proxy

pytestmark = pytest.mark.e2e

# The newest release when written; it runs on Node 20 (its launcher needs Node >= 16).
CODEX = "0.171.0"
KEY_VAR = "LITELLM_PROXY_KEY"

# The config a user copies (with their proxy's address): a provider on /v1/responses, no prompts.
CONFIG = """\
model = "sonnet"
model_provider = "proxy"
approval_policy = "never"
sandbox_mode = "workspace-write"
web_search = "disabled"

[agents]
enabled = false

[model_providers.proxy]
name = "LiteLLM Claude Code proxy"
base_url = "{base_url}"
env_key = "{key_var}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""

# Every tool Codex sends with CONFIG, all of type "function".
CODEX_TOOLS = {
    "exec_command",
    "write_stdin",
    "request_user_input",
    "view_image",
    "get_goal",
    "create_goal",
    "update_goal",
}


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str
    last_message: str


@pytest.fixture(scope="session")
def codex() -> Path:
    """The ``codex`` launcher of the pinned version, installed once into the cache."""
    target = CACHE / f"codex-{CODEX}"
    npm_install("Codex", f"@openai/codex@{CODEX}", target)
    return target / "node_modules" / ".bin" / "codex"


def _exec(codex: Path, proxy: Proxy, tmp_path: Path, prompt: str, config: str = CONFIG) -> Run:
    """``codex exec <prompt>`` in ``tmp_path / "work"``: its output, or a failure with it and the proxy's log."""
    command, env = _exec_command(codex, proxy, tmp_path, prompt, config)
    last = tmp_path / "last-message.txt"
    done = run("codex exec", command, tmp_path / "work", env, proxy)
    assert "deprecated" not in done.stderr, done.stderr  # the config is current for this version
    assert "is ignored" not in done.stderr, done.stderr
    return Run(done.stdout, done.stderr, last.read_text() if last.exists() else "")


def _exec_command(
    codex: Path, proxy: Proxy, tmp_path: Path, prompt: str, config: str = CONFIG
) -> tuple[list[str], dict[str, str]]:
    """The ``codex exec`` command line and environment, its directories under ``tmp_path`` made."""
    home, codex_home, work = tmp_path / "home", tmp_path / "codex-home", tmp_path / "work"
    for directory in (home, codex_home, work):
        directory.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(config.format(base_url=f"{proxy.url}/v1", key_var=KEY_VAR))
    last = tmp_path / "last-message.txt"
    env = offline_env(home, CODEX_HOME=str(codex_home), **{KEY_VAR: proxy.master_key})
    command = [
        str(codex),
        "exec",
        "--strict-config",
        "--skip-git-repo-check",
        "--ephemeral",
        "--color",
        "never",
        "--output-last-message",
        str(last),
        prompt,
    ]
    return command, env


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]


def _asked(request: Recorded, prompt: str) -> None:
    """The model got ``prompt`` once, in the first user turn (after Codex's ``<environment_context>``)."""
    turns = request.turns()
    assert turns[0]["role"] == "user"
    texts = _texts(turns[0]["content"])
    assert texts.count(prompt) == 1, texts
    assert any("<environment_context>" in text for text in texts), texts
    assert "You are a coding agent running in the Codex CLI" in json.dumps(request.body.get("system"))


def _offered_codex_tools(request: Recorded) -> None:
    """Codex's tools, all of them and nothing else of the client's, with its shell tool's schema."""
    offered = request.offered()
    assert set(offered) == CODEX_TOOLS
    shell = offered["exec_command"]
    assert shell["required"] == ["cmd"]
    assert shell["properties"]["cmd"]["type"] == "string"
    assert {"workdir", "yield_time_ms", "tty"} <= set(shell["properties"])


def _no_warnings(proxy: Proxy, offset: int) -> None:
    """With this config nothing Codex sends is left out or ignored on the way to the model.

    Read from ``offset`` on: the session's proxy log also holds earlier tests' requests.
    """
    log = proxy.log.read_bytes()[offset:].decode(errors="replace")
    assert "cannot reach Claude Code" not in log
    assert "is not available: ignored" not in log


def test_codex_exec_plain_answer(codex: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    offset = proxy.log.stat().st_size
    prompt = "Reply with the word pong."
    mock.script(Reply(chunks=["pong", " from", " Claude."]))
    run = _exec(codex, proxy, tmp_path, prompt)
    assert run.stdout.strip() == "pong from Claude."
    assert run.last_message.strip() == "pong from Claude."
    assert len(mock.requests) == 1
    request = mock.requests[0]
    _asked(request, prompt)
    _offered_codex_tools(request)
    assert request.tool_results() == []
    _no_warnings(proxy, offset)


SHELL_ROUNDS = [
    ("toolu_codex1", "echo hello > marker.txt && echo wrote-marker", ["wrote-marker"]),
    ("toolu_codex2", "cat marker.txt && ls", ["hello", "marker.txt"]),
]
SHELL_PROMPT = "Write hello into marker.txt, then show me the file and the directory."
SHELL_FINAL = "marker.txt says hello."


def test_codex_exec_runs_shell_tool_two_rounds(codex: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    offset = proxy.log.stat().st_size
    for call_id, cmd, _ in SHELL_ROUNDS:
        use = {"id": call_id, "name": "exec_command", "input": {"cmd": cmd}}
        mock.script(Reply(chunks=[], tool_uses=[use], stop_reason="tool_use"))
    mock.script(Reply(chunks=[SHELL_FINAL]))
    run = _exec(codex, proxy, tmp_path, SHELL_PROMPT)

    # Codex ran the commands in its working directory.
    assert (tmp_path / "work" / "marker.txt").read_text() == "hello\n"
    assert run.last_message.strip() == SHELL_FINAL
    assert run.stdout.strip().endswith(SHELL_FINAL)

    # Round by round: Codex's tools offered, every earlier call and its output as real turns.
    assert len(mock.requests) == len(SHELL_ROUNDS) + 1
    for done, request in enumerate(mock.requests):
        _asked(request, SHELL_PROMPT)
        _offered_codex_tools(request)
        rounds = request.tool_results()
        assert len(rounds) == done
        for (call_id, _, outputs), blocks in zip(SHELL_ROUNDS[:done], rounds, strict=True):
            assert [b["tool_use_id"] for b in blocks] == [call_id]
            result = json.dumps(blocks[0]["content"])
            for output in outputs:
                assert output in result, result
            assert "exited with code 0" in result, result
            assert not blocks[0].get("is_error")
        turns = request.turns()
        assert [t["role"] for t in turns] == ["user"] + ["assistant", "user"] * done
        for turn, (call_id, cmd, _) in zip(turns[1::2], SHELL_ROUNDS[:done], strict=True):
            uses = [(b["id"], b["name"], b["input"]) for b in turn["content"] if b["type"] == "tool_use"]
            assert uses == [(call_id, "exec_command", {"cmd": cmd})]
        assert "Continue from where you left off" not in json.dumps(request.body)
    _no_warnings(proxy, offset)


# CONFIG with Codex's web search left as it comes (on): its web_search tool is answered by Claude's search.
SEARCH_CONFIG = CONFIG.replace('web_search = "disabled"\n', "")
SEARCH_ANSWER = "Example City gets rain 120 days a year ([Rain in Example City](https://example.com/rain))."


def test_codex_exec_with_web_search_on(codex: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    assert SEARCH_CONFIG != CONFIG
    call = {"id": "toolu_codex_search", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    mock.script(Reply(chunks=[], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=[SEARCH_ANSWER]))
    run = _exec(codex, proxy, tmp_path, "How often does it rain in Example City?", SEARCH_CONFIG)
    assert run.last_message.strip() == SEARCH_ANSWER
    # Codex read the web_search_call item that came before the answer, and shows the search
    assert "web search: rain in Example City" in run.stderr
    # Claude searched (the mock's search got Claude Code's server-tool request), for Codex's turn only
    assert len(mock.searches) == 1
    assert "rain in Example City" in json.dumps(mock.searches[0].body["messages"])
    assert len(mock.requests) == 2
    for request in mock.requests:
        _offered_codex_tools(request)
        assert "WebSearch" in [t["name"] for t in request.body["tools"]]
    assert "https://example.com/rain" in json.dumps(mock.requests[1].body["messages"])


def test_codex_sends_the_search_back_and_the_model_does_not_see_it_as_text(
    codex: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Codex sends its turn's earlier output back with the next round, the web_search_call item
    included: it is dropped before LiteLLM's bridge, which would make it an assistant message,
    ``Hosted web search: {...}``, that the model never wrote (issue 23)."""
    search = {"id": "toolu_codex_search", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    shell = {"id": "toolu_codex_sh", "name": "exec_command", "input": {"cmd": "echo rainy > note.txt"}}
    mock.script(
        Reply(chunks=[], tool_uses=[search], stop_reason="tool_use"),
        Reply(chunks=["Noting it."], tool_uses=[shell], stop_reason="tool_use"),
        Reply(chunks=[SEARCH_ANSWER]),
    )
    run = _exec(codex, proxy, tmp_path, "How often does it rain in Example City? Note it.", SEARCH_CONFIG)
    assert run.last_message.strip() == SEARCH_ANSWER
    assert (tmp_path / "work" / "note.txt").read_text() == "rainy\n"
    assert "web search: rain in Example City" in run.stderr
    assert len(mock.searches) == 1
    assert len(mock.requests) == 3
    last = mock.requests[2]
    assert "Hosted web search" not in json.dumps(last.body)
    turns = last.turns()
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["type"] for b in turns[1]["content"]] == ["text", "tool_use"]
    assert turns[1]["content"][0]["text"] == "Noting it."


# A shell round whose output (4,000 characters) makes the conversation grow past a window.
BIG_OUTPUT = {
    "id": "toolu_codex_big",
    "name": "exec_command",
    "input": {"cmd": "printf 'x%.0s' $(seq 4000)"},
}


def test_codex_given_a_too_long_answer_stops_the_turn(
    codex: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Issue 27: the API refuses round 2 as too long. Codex reads the ``response.failed`` event's
    ``context_length_exceeded`` code as its context-window error: it ends the turn with its own
    message for it (``codex exec`` compacts on its token count, before a request, not after this
    error), and nothing is retried, summarised or sent to another model upstream."""
    context = mock.set_context(scale=1)  # real sizes: below any threshold Codex compacts at
    gate = Gate()
    mock.script(Reply(chunks=[], tool_uses=[BIG_OUTPUT], stop_reason="tool_use", gate=gate))
    command, env = _exec_command(codex, proxy, tmp_path, "Print many x.")
    with subprocess.Popen(
        command,
        cwd=tmp_path / "work",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as codex_run:
        first = mock.wait_for_requests(1, RUN_TIMEOUT)[0]
        assert first.tokens is not None
        context.window = first.tokens + 300  # round 2 carries the 4,000-character output: past it
        gate.open()
        _, stderr = codex_run.communicate(timeout=RUN_TIMEOUT)
    err = stderr.decode(errors="replace")
    assert codex_run.returncode == 1, err[-3000:]
    assert "Codex ran out of room in the model's context window" in err, err[-3000:]
    assert len(mock.requests) == 2
    refused = mock.requests[1]
    assert [len(blocks) for blocks in refused.tool_results()] == [1]
    assert refused.tokens is not None
    assert refused.tokens > context.window
    assert "x" * 4000 in json.dumps(refused.tool_results())


def test_codex_compacting_its_conversation_is_served_as_an_edited_history(
    codex: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Issue 27: usage that says the context is full makes Codex compact its own conversation: it asks
    the model for a summary (its request, on the client's side), then continues from a history holding
    that summary in place of the old turns. Each of its requests is one upstream request holding exactly
    what Codex sent: the continued one has the summary and none of the old shell round."""
    mock.set_context(scale=1000)  # the first answer reports millions of tokens
    summary = "Summary: the user asked for many x; they were printed."
    mock.script(
        Reply(chunks=[], tool_uses=[BIG_OUTPUT], stop_reason="tool_use"),
        Reply(chunks=[summary]),
        Reply(chunks=["Done: many x."]),
    )
    run_ = _exec(codex, proxy, tmp_path, "Print many x.")
    assert "context compacted" in run_.stderr
    assert run_.last_message.strip() == "Done: many x."
    assert len(mock.requests) == 3
    compaction, continued = mock.requests[1], mock.requests[2]
    assert "x" * 4000 in json.dumps(compaction.body["messages"])  # Codex's summary request: the whole history
    sent = json.dumps(continued.body["messages"])
    assert summary in sent
    assert "x" * 4000 not in sent
    assert continued.tool_results() == []
