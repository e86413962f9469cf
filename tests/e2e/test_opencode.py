"""OpenCode (``opencode-ai``, ``opencode run``) against the real proxy, SDK and Claude Code CLI (issue 13).

OpenCode is installed by npm into a cache directory of its own
(``~/.cache/litellm-claude-code/clients/opencode-<version>/``; the npm package's
postinstall links in the native binary of its platform package), never into the
project's environment; an install failure fails the tests with npm's output.
``opencode run`` runs headless with a temporary ``HOME`` (and the XDG config,
data, cache and state directories inside it, where OpenCode keeps its config,
session database, logs and locks), no standard input, a timeout, and every
outside connection sent to a loopback port that refuses it. The proxy is an
OpenCode custom provider on ``@ai-sdk/openai-compatible`` (bundled in the
binary: nothing is installed at run time for it), in the global
``opencode.json`` below, talking to ``/v1/chat/completions``.

What OpenCode 1.18.33 sends: always a stream (``stream: true`` with
``stream_options.include_usage``, ``max_tokens`` from the model's output limit,
``tool_choice: "auto"``), its system prompt as one system message, the user's
words as one user message, and ten function tools (``bash`` taking
``{"command": ...}``, ``edit``, ``glob``, ``grep``, ``read``, ``skill``, ``task``,
``todowrite``, ``webfetch``, ``write`` taking ``{"filePath", "content"}``); each
tool result comes back as a ``tool`` message. ``opencode run`` wraps a message
argument that contains a space in double quotes before sending it (the model
gets ``"Reply with ..."``, quotes included). A session without ``--title``
also asks the ``small_model`` for a title, concurrently with the answer; the
tests pass ``--title`` except where that request is what they check. A file
given with ``--file`` is sent as an ``image_url`` data URL only if the model's
config declares image input (``attachment`` and ``modalities``), else OpenCode
sends a note that the model cannot read it.

What it tries outside, found with a recording proxy in place of the refusing
one: ``GET https://models.opencode.ai/api.json`` (model metadata; off with
``OPENCODE_DISABLE_MODELS_FETCH=1``, the custom provider needs none of it), and
a background ``npm install @opencode-ai/plugin`` (its embedded npm, to
registry.npmjs.org) into each config directory that has no ``node_modules``,
for local plugins and custom tools. That one has no switch; refused here, it
fails in the background without effect on the run (nothing here uses plugins),
at most leaving a "background dependency install failed" warning in the log.
No update check was seen (``autoupdate`` is off, in the config and by
``OPENCODE_DISABLE_AUTOUPDATE``).

OpenCode's ``bash`` description (4628 characters) is longer than the 4096 at
which the Claude Code CLI cuts an MCP tool's description by default; the proxy
raises that limit (``CLAUDE_CODE_MAX_MCP_DESCRIPTION_LENGTH`` in
``environment.SERVER_DEFAULTS``), so every tool, that one included, reaches the
model as OpenCode sent it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.anthropic_mock import Gate, MockAnthropic, Recorded, Reply

from .client_kit import CACHE, RUN_TIMEOUT, Recorder, npm_install, offline_env, run
from .harness import Proxy

pytestmark = pytest.mark.e2e

# The newest release when written (a native binary per platform; Node only runs npm's postinstall).
OPENCODE = "1.18.33"
KEY_VAR = "LITELLM_PROXY_KEY"
PROVIDER = "litellm"

# A model of the proxy as OpenCode needs to know it: limits, and image input (else files are not sent).
MODEL_OPTIONS: dict[str, Any] = {
    "attachment": True,
    "modalities": {"input": ["text", "image"], "output": ["text"]},
    "limit": {"context": 200000, "output": 32000},
}


def opencode_config(base_url: str) -> dict[str, Any]:
    """The ``opencode.json`` a user copies (with their proxy's address); ``permission`` is for unattended runs."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "LiteLLM Claude Code proxy",
                "options": {"baseURL": base_url, "apiKey": f"{{env:{KEY_VAR}}}"},
                "models": {
                    "sonnet": {"name": "Claude Sonnet (proxy)", **MODEL_OPTIONS},
                    "haiku": {"name": "Claude Haiku (proxy)", **MODEL_OPTIONS},
                },
            }
        },
        "model": f"{PROVIDER}/sonnet",
        "small_model": f"{PROVIDER}/haiku",
        "permission": {"*": "allow"},
        "autoupdate": False,
        "share": "disabled",
    }


# Every tool OpenCode's default agent sends with that config.
OPENCODE_TOOLS = {"bash", "edit", "glob", "grep", "read", "skill", "task", "todowrite", "webfetch", "write"}
OPENCODE_SYSTEM = "You are opencode, an interactive CLI tool that helps users with software engineering tasks."


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str

    def events(self) -> list[dict[str, Any]]:
        """``--format json``: one JSON event a line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def _scratch_xdg(scratch: Path) -> dict[str, str]:
    """The environment with OpenCode's XDG directories in ``scratch``.

    Even ``opencode --version`` (which the package's postinstall runs) makes its
    config, data, cache and state directories; this keeps them out of the real
    HOME while npm keeps its own cache (``~/.npm``) where it is.
    """
    dirs = {"XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_CACHE_HOME": "cache", "XDG_STATE_HOME": "state"}
    return {**os.environ, **{var: str(scratch / name) for var, name in dirs.items()}}


def _version(binary: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(binary), "--version"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def opencode() -> Path:
    """The ``opencode`` binary of the pinned version, installed once into the cache."""
    target = CACHE / f"opencode-{OPENCODE}"
    binary = target / "node_modules" / ".bin" / "opencode"
    with tempfile.TemporaryDirectory(prefix="opencode-install-") as scratch:
        env = _scratch_xdg(Path(scratch))

        def linked() -> str | None:
            # The launcher is the platform binary, linked in by the package's postinstall script.
            version = _version(binary, env) if binary.exists() else "no binary"
            return None if version == OPENCODE else f"{binary} --version gave {version!r}"

        npm_install("OpenCode", f"opencode-ai@{OPENCODE}", target, env, linked)
    return binary


def _run(opencode: Path, base: str, proxy: Proxy, tmp_path: Path, *args: str) -> Run:
    """``opencode run <args>`` in ``tmp_path / "work"`` against ``base``: its output, or a failure with it."""
    env = _run_env(base, proxy, tmp_path)
    done = run("opencode run", [str(opencode), "run", "--print-logs", *args], tmp_path / "work", env, proxy)
    # OpenCode's own log (``--print-logs``): nothing went wrong on its side, the refused plugin install aside.
    problems = [
        line
        for line in done.stderr.splitlines()
        if ("level=ERROR" in line or "level=WARN" in line) and "background dependency install failed" not in line
    ]
    assert problems == [], done.stderr
    return Run(done.stdout, done.stderr)


def _run_env(base: str, proxy: Proxy, tmp_path: Path) -> dict[str, str]:
    """The environment of ``opencode run`` against ``base``, its home and ``tmp_path / "work"`` made."""
    home, work = tmp_path / "home", tmp_path / "work"
    config = home / ".config" / "opencode"
    config.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    (config / "opencode.json").write_text(json.dumps(opencode_config(f"{base}/v1"), indent=2))
    env = offline_env(
        home,
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        SHELL=shutil.which("bash") or "/bin/sh",
        OPENCODE_DISABLE_MODELS_FETCH="1",  # models.opencode.ai: the custom provider's models are in the config
        OPENCODE_DISABLE_AUTOUPDATE="1",
        **{KEY_VAR: proxy.master_key},
    )
    return env


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]


def _quoted(prompt: str) -> str:
    """What ``opencode run`` makes of a message argument with a space in it."""
    return f'"{prompt}"'


def _asked(request: Recorded, prompt: str) -> None:
    """The model got OpenCode's system prompt as the system prompt and ``prompt`` once, as the first turn."""
    turns = request.turns()
    assert turns[0]["role"] == "user"
    assert _texts(turns[0]["content"]) == [_quoted(prompt)]
    assert sum(json.dumps(t["content"]).count(prompt) for t in turns) == 1
    assert OPENCODE_SYSTEM in "\n".join(_texts(request.body.get("system")))
    assert "sonnet" in request.body["model"]


def _sent_tools(sent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert all(t["type"] == "function" for t in sent["tools"])
    return {t["function"]["name"]: t["function"] for t in sent["tools"]}


def _offered_opencode_tools(request: Recorded, sent: dict[str, Any]) -> None:
    """OpenCode's tools, all of them and nothing else of the client's, as OpenCode sent them."""
    tools = _sent_tools(sent)
    assert set(tools) == OPENCODE_TOOLS
    offered = request.offered()
    assert set(offered) == OPENCODE_TOOLS
    assert offered["bash"]["required"] == ["command"]
    assert offered["write"]["required"] == ["content", "filePath"]
    upstream = {t["name"]: t for t in request.body["tools"]}
    for name, function in tools.items():
        assert offered[name] == function["parameters"], name
        assert upstream[name]["description"] == function["description"], name
    assert max(len(f["description"]) for f in tools.values()) > 4096  # the CLI's own cut, lifted


def _streamed(answer: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """A chat completion stream's content deltas and the usage it carried."""
    deltas, usages = [], []
    for line in answer.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunk = json.loads(line[len("data: ") :])
            if chunk.get("usage"):
                usages.append(chunk["usage"])
            for choice in chunk.get("choices") or []:
                if choice.get("delta", {}).get("content"):
                    deltas.append(choice["delta"]["content"])
    return deltas, usages


def _streaming_request(sent: dict[str, Any]) -> None:
    assert sent["model"] == "sonnet"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == MODEL_OPTIONS["limit"]["output"]
    assert sent["tool_choice"] == "auto"


def _no_warnings(proxy: Proxy, offset: int) -> None:
    """Nothing OpenCode sends is left out or ignored on the way to the model (the log read from ``offset`` on)."""
    log = proxy.log.read_bytes()[offset:].decode(errors="replace")
    assert "cannot reach Claude Code" not in log
    assert "is not available: ignored" not in log


PLAIN_PROMPT = "Reply with the word pong."
PLAIN_CHUNKS = ["pong", " from", " Claude."]


def test_opencode_run_plain_answer(opencode: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    offset = proxy.log.stat().st_size
    mock.script(Reply(chunks=PLAIN_CHUNKS, delay=0.05))
    with Recorder(proxy.url) as recorder:
        run = _run(opencode, recorder.url, proxy, tmp_path, "--title", "pong", PLAIN_PROMPT)

    assert run.stdout.strip() == "pong from Claude."
    assert list((tmp_path / "work").iterdir()) == []  # OpenCode keeps its state in HOME, not in the project

    # One streamed chat completion, the answer arriving in pieces and with usage.
    assert [path for path, _ in recorder.requests] == ["/v1/chat/completions"]
    sent = recorder.requests[0][1]
    _streaming_request(sent)
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["messages"][1]["content"] == _quoted(PLAIN_PROMPT)
    deltas, usages = _streamed(recorder.answers[0])
    assert deltas == PLAIN_CHUNKS
    assert [(u["prompt_tokens"], u["completion_tokens"]) for u in usages] == [(12, 5)]

    # What reached the model.
    assert len(mock.requests) == 1
    request = mock.requests[0]
    _asked(request, PLAIN_PROMPT)
    assert sent["messages"][0]["content"] in _texts(request.body.get("system"))
    _offered_opencode_tools(request, sent)
    assert request.tool_results() == []
    _no_warnings(proxy, offset)


def test_opencode_titles_with_the_small_model(
    opencode: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Without ``--title`` OpenCode asks ``small_model`` (here ``haiku``) for a title next to the answer."""
    # The two requests run at once and either may reach the mock first: both get the same reply.
    mock.script(Reply(chunks=["Pong game"]), Reply(chunks=["Pong game"]))
    run = _run(opencode, proxy.url, proxy, tmp_path, PLAIN_PROMPT)
    assert run.stdout.strip() == "Pong game"
    assert len(mock.requests) == 2
    [title] = [r for r in mock.requests if "haiku" in r.body["model"]]
    [answer] = [r for r in mock.requests if "sonnet" in r.body["model"]]
    assert "You are a title generator." in "\n".join(_texts(title.body.get("system")))
    assert title.offered() == {}
    [turn] = title.turns()
    assert _texts(turn["content"]) == ["Generate a title for this conversation:\n", _quoted(PLAIN_PROMPT)]
    _asked(answer, PLAIN_PROMPT)
    assert set(answer.offered()) == OPENCODE_TOOLS


LOOP_PROMPT = "Write hello into marker.txt, then write notes.txt."
LOOP_FINAL = "marker.txt says hello and notes.txt is written."


def test_opencode_run_tool_loop_two_rounds(opencode: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    offset = proxy.log.stat().st_size
    work = tmp_path / "work"
    rounds = [  # (call id, OpenCode tool, its input, what OpenCode returns for it)
        ("toolu_oc1", "bash", {"command": "echo hello > marker.txt && echo wrote-marker"}, "wrote-marker\n"),
        ("toolu_oc2", "write", {"filePath": str(work / "notes.txt"), "content": "two rounds\n"}, None),
    ]
    for call_id, tool, arguments, _ in rounds:
        use = {"id": call_id, "name": tool, "input": arguments}
        mock.script(Reply(chunks=[], tool_uses=[use], stop_reason="tool_use", input_tokens=40, output_tokens=9))
    mock.script(Reply(chunks=[LOOP_FINAL], input_tokens=60, output_tokens=11))
    with Recorder(proxy.url) as recorder:
        run = _run(opencode, recorder.url, proxy, tmp_path, "--title", "loop", "--format", "json", LOOP_PROMPT)

    # OpenCode ran both tools in its working directory.
    assert (work / "marker.txt").read_text() == "hello\n"
    assert (work / "notes.txt").read_text() == "two rounds\n"
    assert sorted(p.name for p in work.iterdir()) == ["marker.txt", "notes.txt"]

    # Its events: each tool call completed, then the model's answer; the usage of each step.
    events = run.events()
    calls = [e["part"] for e in events if e["type"] == "tool_use"]
    assert [(c["callID"], c["tool"], c["state"]["status"], c["state"]["input"]) for c in calls] == [
        (call_id, tool, "completed", arguments) for call_id, tool, arguments, _ in rounds
    ]
    assert calls[0]["state"]["output"] == "wrote-marker\n"
    assert calls[0]["state"]["metadata"]["exit"] == 0
    assert [e["part"]["text"] for e in events if e["type"] == "text"] == [LOOP_FINAL]
    steps = [e["part"] for e in events if e["type"] == "step_finish"]
    assert [s["reason"] for s in steps] == ["tool-calls", "tool-calls", "stop"]
    assert [(s["tokens"]["input"], s["tokens"]["output"]) for s in steps] == [(40, 9), (40, 9), (60, 11)]
    outputs = [c["state"]["output"] for c in calls]  # the write tool's own wording, whatever it is

    # What OpenCode sent, round by round: its earlier calls as tool_calls, their outputs as tool messages.
    assert [path for path, _ in recorder.requests] == ["/v1/chat/completions"] * (len(rounds) + 1)
    for done, (_, sent) in enumerate(recorder.requests):
        _streaming_request(sent)
        messages = sent["messages"]
        assert [m["role"] for m in messages] == ["system", "user"] + ["assistant", "tool"] * done
        for (call_id, tool, arguments, _), output, (call, result) in zip(
            rounds, outputs, zip(messages[2::2], messages[3::2], strict=True), strict=False
        ):
            [tool_call] = call["tool_calls"]
            assert (tool_call["id"], tool_call["function"]["name"]) == (call_id, tool)
            assert json.loads(tool_call["function"]["arguments"]) == arguments
            assert (result["tool_call_id"], result["content"]) == (call_id, output)

    # What reached the model, round by round: OpenCode's tools, every earlier call and its output as real turns.
    assert len(mock.requests) == len(rounds) + 1
    for done, request in enumerate(mock.requests):
        _asked(request, LOOP_PROMPT)
        _offered_opencode_tools(request, recorder.requests[done][1])
        results = request.tool_results()
        assert len(results) == done
        for (call_id, _, _, _), output, blocks in zip(rounds, outputs, results, strict=False):
            assert [b["tool_use_id"] for b in blocks] == [call_id]
            assert output.strip() in json.dumps(blocks[0]["content"]), blocks
            assert not blocks[0].get("is_error")
        turns = request.turns()
        assert [t["role"] for t in turns] == ["user"] + ["assistant", "user"] * done
        for turn, (call_id, tool, arguments, _) in zip(turns[1::2], rounds, strict=False):
            uses = [(b["id"], b["name"], b["input"]) for b in turn["content"] if b["type"] == "tool_use"]
            assert uses == [(call_id, tool, arguments)]
        assert "Continue from where you left off" not in json.dumps(request.body)
    _no_warnings(proxy, offset)


def _png(width: int, height: int, rgb: bytes) -> bytes:
    """A small solid-colour PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + (zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    pixels = b"".join(b"\x00" + rgb * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def test_opencode_run_sends_an_image(opencode: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    """``--file picture.png``, with image input declared in the model's config, reaches Claude as an image."""
    image = tmp_path / "red.png"
    image.write_bytes(_png(8, 8, b"\xff\x00\x00"))
    prompt = "What colour is this image?"
    mock.script(Reply(chunks=["It is red."]))
    run = _run(opencode, proxy.url, proxy, tmp_path, "--title", "colour", prompt, "--file", str(image))
    assert run.stdout.strip() == "It is red."
    assert len(mock.requests) == 1
    [first, *_] = mock.requests[0].turns()
    images = [b for b in first["content"] if b.get("type") == "image"]
    assert [b["source"] for b in images] == [
        {"type": "base64", "media_type": "image/png", "data": base64.b64encode(image.read_bytes()).decode()}
    ]
    assert _quoted(prompt) in _texts(first["content"])


def test_opencode_given_a_too_long_answer_compacts_and_continues(
    opencode: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Issue 27: the API refuses round 2 as too long. OpenCode reads the 400 as its
    ``ContextOverflowError`` (from "Prompt is too long" in the message), has the model summarise
    the conversation (its compaction agent, a request of its own) and continues from that summary:
    each of its requests one upstream request, the continued one without the old shell output."""
    context = mock.set_context(scale=1)  # real sizes: OpenCode's own usage check stays below its limit
    gate = Gate()
    big = {"command": "printf 'x%.0s' $(seq 4000)", "description": "print many x"}
    summary, final = "Summary: the user asked for many x; they were printed.", "Done: many x."
    mock.script(
        Reply(chunks=[], tool_uses=[{"id": "toolu_oc_big", "name": "bash", "input": big}], gate=gate),
        Reply(chunks=[summary]),
        Reply(chunks=[final]),
    )
    env = _run_env(proxy.url, proxy, tmp_path)
    command = [str(opencode), "run", "--title", "long", "--format", "json", "Print many x."]
    with subprocess.Popen(
        command, cwd=tmp_path / "work", env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    ) as opencode_run:
        first = mock.wait_for_requests(1, RUN_TIMEOUT)[0]
        assert first.tokens is not None
        context.window = first.tokens + 300  # round 2 carries the 4,000-character output: past it
        gate.open()
        stdout, _ = opencode_run.communicate(timeout=RUN_TIMEOUT)
    events = Run(stdout, "").events()
    assert opencode_run.returncode == 1  # the run reports the error it met, though it went on
    [error] = [e["error"] for e in events if e["type"] == "error"]
    assert error["name"] == "ContextOverflowError"
    assert "Prompt is too long" in error["data"]["message"]
    texts = [e["part"]["text"] for e in events if e["type"] == "text" and not e["part"].get("synthetic")]
    assert texts == [summary, final]
    assert len(mock.requests) == 4  # round 1, round 2 refused, OpenCode's summary request, the continued turn
    refused, continued = mock.requests[1], mock.requests[3]
    assert refused.tokens is not None
    assert refused.tokens > context.window
    assert "x" * 4000 in json.dumps(refused.tool_results())
    sent = json.dumps(continued.body["messages"])
    assert summary in sent
    assert "x" * 4000 not in sent
