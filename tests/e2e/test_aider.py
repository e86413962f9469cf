"""Aider against the real proxy (issue 13): ``aider --message`` editing one file, four ways.

Aider (``aider-chat``) is installed by these tests into a venv of its own made with
the system ``python3`` (``~/.cache/litellm-claude-code/clients/aider-<version>/``,
reused once a stamp says it is complete), never into the project's environment.
It runs once per test, non-interactively, in a temporary directory holding one
file, against model ``openai/sonnet`` (LiteLLM's OpenAI provider, inside Aider,
pointed at the proxy by ``OPENAI_API_BASE``), in the edit formats ``whole`` and
``diff``, streamed and not. The mock's scripted answer is the edit in Aider's
format; the test checks the file afterwards is exactly what that edit says, and
on the mock's side that the model got Aider's system prompt as the system
prompt, the file's content and the instruction as turns of the conversation.
A pass-through recorder between Aider and the proxy keeps what Aider sent (so
the upstream request is compared with it turn by turn) and what it got back
(so a stream is seen to arrive in several deltas).

Offline and non-interactive: a temporary HOME, no standard input, a timeout, every
``*_PROXY`` variable pointed at a loopback port that refuses connections, no
update check, no analytics, no release notes, no repo map, no URL detection,
``--yes-always``. ``--no-git``: without git Aider makes no commits and so never
asks the weak model for a commit message, which keeps every run to exactly one
model request (with a repository it would make a second one per edit; that is
Aider talking to its weak model, nothing the proxy does differently).
``--no-auto-lint`` keeps Aider from linting the edited file and offering a
fix-up round. A model metadata file gives ``openai/sonnet`` a context window and
zero costs, so Aider neither warns about an unknown model nor offers to open its
documentation URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.anthropic_mock import MockAnthropic, Reply

from .client_kit import CACHE, Recorder, offline_env, run, venv_install
from .harness import Proxy

pytestmark = pytest.mark.e2e


AIDER = "0.86.2"  # the newest aider-chat; installs on Python 3.11
PINS = [f"aider-chat=={AIDER}"]
MODEL = "openai/sonnet"
METADATA = {
    MODEL: {
        "max_input_tokens": 200000,
        "max_output_tokens": 32000,
        "input_cost_per_token": 0,
        "output_cost_per_token": 0,
        "litellm_provider": "openai",
        "mode": "chat",
    }
}

ORIGINAL = 'def greet(name):\n    return "Hello, " + name\n\n\nprint(greet("world"))\n'
EDITED = 'def greet(name):\n    return f"Hi, {name}!"\n\n\nprint(greet("world"))\n'
INSTRUCTION = "Make greet() return 'Hi, <name>!' using an f-string."

# The model's answers, in several chunks so a stream arrives in pieces (a chunk boundary inside a line too).
WHOLE = [
    "Ok, I will switch the greeting to an f-string.\n\n",
    "hello.py\n```python\n",
    "def greet(name):\n    return f",
    '"Hi, {name}!"\n\n\n',
    'print(greet("world"))\n```\n',
]
DIFF = [
    "I will switch the greeting to an f-string.\n\n",
    "hello.py\n```python\n<<<<<<< SEARCH\n",
    '    return "Hello, " + name\n',
    "=======\n    return f",
    '"Hi, {name}!"\n>>>>>>> REPLACE\n```\n',
]
# A line of each format's own system prompt, next to the line both share.
SYSTEM_LINES = {
    "whole": "3. If changes are needed, output a copy of each file that needs changes.",
    "diff": "3. Describe each change with a *SEARCH/REPLACE block* per the examples below.",
}
FILES_PREFIX = "I have *added these files to the chat* so you can go ahead and edit them."


@pytest.fixture(scope="session")
def aider() -> Path:
    """The ``aider`` executable of a venv of the system ``python3``, installed once and reused."""
    target = CACHE / f"aider-{AIDER}"
    venv_install("aider", PINS, target)
    return target / "bin" / "aider"


def _run_aider(
    aider: Path, base: str, proxy: Proxy, tmp_path: Path, edit_format: str, stream: bool
) -> tuple[Path, str]:
    """``aider --message INSTRUCTION hello.py`` in a fresh project against ``base``: the file and Aider's output."""
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    target = project / "hello.py"
    target.write_text(ORIGINAL)
    metadata = tmp_path / "model-metadata.json"
    metadata.write_text(json.dumps(METADATA))
    env = offline_env(
        home,
        TERM="dumb",
        OPENAI_API_BASE=f"{base}/v1",
        OPENAI_API_KEY=proxy.master_key,
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # Aider's litellm would fetch its cost map from GitHub
    )
    command = [
        str(aider),
        "--model",
        MODEL,
        "--model-metadata-file",
        str(metadata),
        "--edit-format",
        edit_format,
        "--stream" if stream else "--no-stream",
        "--message",
        INSTRUCTION,
        "--yes-always",
        "--no-git",
        "--no-auto-commits",
        "--no-auto-lint",
        "--no-check-update",
        "--no-show-release-notes",
        "--no-analytics",
        "--analytics-disable",
        "--no-pretty",
        "--no-fancy-input",
        "--map-tokens",
        "0",
        "--no-detect-urls",
        "hello.py",
    ]
    done = run("aider", command, project, env, proxy)
    output = f"{done.stdout}\n{done.stderr}"
    return target, output


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]


def _answered(answer: bytes, stream: bool) -> list[str]:
    """The content Aider got back from the proxy: its stream's text deltas, or the one message's content."""
    if not stream:
        return [json.loads(answer)["choices"][0]["message"]["content"]]
    deltas = []
    for line in answer.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            choices = json.loads(line[len("data: ") :]).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                deltas.append(choices[0]["delta"]["content"])
    return deltas


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("edit_format", ["whole", "diff"])
def test_aider_edits_a_file(
    aider: Path, proxy: Proxy, mock: MockAnthropic, tmp_path: Path, edit_format: str, stream: bool
) -> None:
    chunks = WHOLE if edit_format == "whole" else DIFF
    mock.script(Reply(chunks=chunks, delay=0.05 if stream else 0.0, input_tokens=900, output_tokens=60))
    with Recorder(proxy.url) as recorder:
        target, output = _run_aider(aider, recorder.url, proxy, tmp_path, edit_format, stream)

    # The file is exactly what the scripted edit says, and nothing else was written next to it.
    assert target.read_text() == EDITED, output
    assert "Applied edit to hello.py" in output, output
    assert sorted(p.name for p in target.parent.iterdir() if not p.name.startswith(".aider")) == ["hello.py"]

    # Aider made one chat completion, streamed or not as asked, and got the model's answer whole.
    assert [path for path, _ in recorder.requests] == ["/v1/chat/completions"]
    sent = recorder.requests[0][1]
    assert sent["model"] == "sonnet"  # LiteLLM inside Aider drops the "openai/" prefix
    assert bool(sent.get("stream")) is stream
    answered = _answered(recorder.answers[0], stream)
    assert "".join(answered) == "".join(chunks)
    if stream:
        assert len(answered) >= 3, answered  # it really arrived in pieces
    else:
        assert "Tokens: 900 sent, 60 received." in output  # the upstream usage reached Aider

    # What Aider sent is what reached the model: its system message as the system prompt, its turns as turns.
    messages = sent["messages"]
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * ((len(messages) - 2) // 2) + ["user"]
    assert len(mock.requests) == 1
    request = mock.requests[0]
    assert messages[0]["content"] in _texts(request.body.get("system"))
    system = "\n".join(_texts(request.body.get("system")))
    assert "Act as an expert software developer." in system
    assert SYSTEM_LINES[edit_format] in system
    turns = [(t["role"], "\n".join(_texts(t["content"]))) for t in request.turns()]
    assert turns == [(m["role"], m["content"]) for m in messages[1:]]

    # Among those turns: the file's content once, then the instruction as the last user turn.
    users = [text for role, text in turns if role == "user"]
    files = [text for text in users if FILES_PREFIX in text]
    assert len(files) == 1, users
    assert f"hello.py\n```\n{ORIGINAL}" in files[0] or f"hello.py\n```\n{ORIGINAL.rstrip()}" in files[0]
    assert users[-1].startswith(INSTRUCTION)
    assert sum(text.count(INSTRUCTION) for text in users) == 1
