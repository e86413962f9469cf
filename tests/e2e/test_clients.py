"""Real clients against the real proxy (issue 13): openai-node, LangChain, the OpenAI Agents SDK.

Each client is installed by these tests into a cache directory of its own
(``~/.cache/litellm-claude-code/clients/<name>-<version>/``, reused once a stamp
says it is complete), never into the project's environment; a client that
cannot be installed fails its tests with the installer's output. Each one runs
as a subprocess (a driver script in ``tests/e2e/clients/``) with a temporary
HOME, no standard input, a timeout, and every outside connection sent to a
loopback port that refuses it. On the mock's side every test checks what
reached the model: the question, the client's tools with their schemas on
every round, and every earlier result as a ``tool_result`` block.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.anthropic_mock import CLAUDE_CODE_TOOLS, MockAnthropic, Recorded, Reply

from .client_kit import CACHE, npm_install, offline_env, run, venv_install
from .harness import Proxy

pytestmark = pytest.mark.e2e

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"

# Pinned versions: the newest that install here. openai-node 7 needs Node >= 22; 6.x is the newest for Node 20.
OPENAI_NODE = "6.49.0"
LANGCHAIN = ["langchain-openai==1.7.4", "langchain-core==1.8.3", "langgraph==1.2.24"]
AGENTS = ["openai-agents==0.24.0"]

# The two tools of every loop, the results the drivers' tools return, and the model's side of the loop.
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TIME = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
ROUNDS = [
    ("toolu_c1", "get_weather", {"city": "Paris"}, "weather in Paris: sunny, 21C"),
    ("toolu_c2", "get_time", {"zone": "CET"}, "time in CET: 14:05"),
]
LOOP_QUESTION = "Weather in Paris, then the time in CET?"
FINAL = "Paris is sunny at 21C and it is 14:05 CET."


@dataclass(frozen=True)
class Tools:
    """A client's two tools as it sends them: the model must get exactly these schemas and descriptions."""

    schemas: dict[str, dict[str, Any]]
    descriptions: dict[str, str]


DOCSTRINGS = {"get_weather": "The current weather in a city.", "get_time": "The current time in a time zone."}
NODE_TOOLS = Tools({"get_weather": WEATHER, "get_time": TIME}, {n: f"{n} tool" for n in ("get_weather", "get_time")})
LANGCHAIN_TOOLS = Tools({"get_weather": WEATHER, "get_time": TIME}, DOCSTRINGS)


def _agents_schema(name: str, field: str) -> dict[str, Any]:
    """What the Agents SDK makes of ``def name(field: str)`` (strict mode: titles, no extra properties)."""
    return {
        "type": "object",
        "properties": {field: {"title": field.title(), "type": "string"}},
        "required": [field],
        "title": f"{name}_args",
        "additionalProperties": False,
    }


AGENTS_TOOLS = Tools(
    {"get_weather": _agents_schema("get_weather", "city"), "get_time": _agents_schema("get_time", "zone")}, DOCSTRINGS
)


@dataclass(frozen=True)
class Client:
    name: str
    command: list[str]  # runs a driver script
    env: dict[str, str]


def _python_client(name: str, pins: list[str]) -> Client:
    """A venv of the system ``python3`` with ``pins`` installed, reused across runs."""
    python = venv_install(name, pins, CACHE / f"{name}-{pins[0].split('==')[1]}")  # named by the client's version
    return Client(name, [str(python)], {})


@pytest.fixture(scope="session")
def openai_node() -> Client:
    target = CACHE / f"openai-node-{OPENAI_NODE}"
    npm_install("openai-node", f"openai@{OPENAI_NODE}", target)
    node = shutil.which("node") or "node"
    return Client("openai-node", [node], {"NODE_PATH": str(target / "node_modules")})


@pytest.fixture(scope="session")
def langchain() -> Client:
    return _python_client("langchain", LANGCHAIN)


@pytest.fixture(scope="session")
def agents_sdk() -> Client:
    return _python_client("openai-agents", AGENTS)


def _run(client: Client, script: str, mode: str, proxy: Proxy, tmp_path: Path) -> dict[str, Any]:
    """One driver run against ``proxy``: its JSON answer, or a failure with its output and the proxy's log."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = offline_env(home, OPENAI_BASE_URL=f"{proxy.url}/v1", OPENAI_API_KEY=proxy.master_key, **client.env)
    command = [*client.command, str(CLIENTS_DIR / script), mode]
    done = run(f"{client.name} {mode}", command, tmp_path, env, proxy)
    lines = done.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"{client.name} {mode} printed no answer:\n{done.stderr[-6000:]}\nproxy log:\n{proxy.log_tail()}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]


def _asked(request: Recorded, question: str) -> None:
    """The model got ``question`` as the first user turn's text, once."""
    turns = request.turns()
    assert turns[0]["role"] == "user"
    assert _texts(turns[0]["content"]).count(question) == 1, turns[0]


def _script_loop(mock: MockAnthropic) -> None:
    for call_id, name, args, _ in ROUNDS:
        use = {"id": call_id, "name": name, "input": args}
        mock.script(Reply(chunks=[], tool_uses=[use], stop_reason="tool_use"))
    mock.script(Reply(chunks=[FINAL]))


def _described(request: Recorded) -> dict[str, str]:
    """The client's tools offered upstream, by name, with their descriptions."""
    tools = request.body.get("tools") or []
    return {t["name"]: t.get("description") for t in tools if t["name"] not in CLAUDE_CODE_TOOLS}


def _check_loop(mock: MockAnthropic, tools: Tools) -> None:
    """Round by round: both tools offered as the client sent them, every earlier call and result as real turns."""
    assert len(mock.requests) == len(ROUNDS) + 1
    for done, request in enumerate(mock.requests):
        assert request.offered() == tools.schemas
        assert _described(request) == tools.descriptions
        _asked(request, LOOP_QUESTION)
        rounds = request.tool_results()
        assert len(rounds) == done
        for (call_id, _, _, result), blocks in zip(ROUNDS[:done], rounds, strict=True):
            assert [b["tool_use_id"] for b in blocks] == [call_id]
            assert json.dumps(blocks[0]["content"]).count(result) == 1
            assert not blocks[0].get("is_error")
        turns = request.turns()
        assert [t["role"] for t in turns] == ["user"] + ["assistant", "user"] * done
        for turn, (call_id, name, args, _) in zip(turns[1::2], ROUNDS[:done], strict=True):
            uses = [(b["id"], b["name"], b["input"]) for b in turn["content"] if b["type"] == "tool_use"]
            assert uses == [(call_id, name, args)]
        assert "Continue from where you left off" not in json.dumps(request.body)


EXPECTED_CALLS = [[name, args] for _, name, args, _ in ROUNDS]


# -- openai-node ---------------------------------------------------------------


def test_openai_node_chat_completion(openai_node: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    mock.script(Reply(chunks=["Hello ", "from node."], input_tokens=17, output_tokens=6))
    result = _run(openai_node, "openai_node.cjs", "chat", proxy, tmp_path)
    assert (result["content"], result["finish_reason"]) == ("Hello from node.", "stop")
    assert (result["usage"]["prompt_tokens"], result["usage"]["completion_tokens"]) == (17, 6)
    assert len(mock.requests) == 1
    _asked(mock.requests[-1], "Say hello.")
    assert mock.requests[-1].offered() == {}


def test_openai_node_stream_arrives_in_several_deltas(
    openai_node: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    mock.script(Reply(chunks=["One, ", "two, ", "three, ", "four."], delay=0.1, input_tokens=9, output_tokens=8))
    result = _run(openai_node, "openai_node.cjs", "stream", proxy, tmp_path)
    assert "".join(result["deltas"]) == "One, two, three, four."
    assert len(result["deltas"]) >= 3, result["deltas"]
    assert result["finish_reason"] == "stop"
    assert (result["usage"]["prompt_tokens"], result["usage"]["completion_tokens"]) == (9, 8)
    assert len(mock.requests) == 1
    _asked(mock.requests[-1], "Count to four.")


def test_openai_node_run_tools_two_round_loop(
    openai_node: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    _script_loop(mock)
    result = _run(openai_node, "openai_node.cjs", "tools", proxy, tmp_path)
    assert result["calls"] == EXPECTED_CALLS
    assert result["final"] == FINAL
    assert result["completions"] == len(ROUNDS) + 1
    _check_loop(mock, NODE_TOOLS)


# -- LangChain -----------------------------------------------------------------


def test_langchain_invoke(langchain: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    mock.script(Reply(chunks=["Hello ", "from LangChain."]))
    result = _run(langchain, "langchain_driver.py", "invoke", proxy, tmp_path)
    assert (result["content"], result["finish_reason"]) == ("Hello from LangChain.", "stop")
    assert len(mock.requests) == 1
    _asked(mock.requests[-1], "Say hello.")


def test_langchain_stream_arrives_in_several_chunks(
    langchain: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    mock.script(Reply(chunks=["One, ", "two, ", "three, ", "four."], delay=0.1))
    result = _run(langchain, "langchain_driver.py", "stream", proxy, tmp_path)
    assert "".join(result["deltas"]) == "One, two, three, four."
    assert len(result["deltas"]) >= 3, result["deltas"]
    _asked(mock.requests[-1], "Count to four.")


def test_langchain_bind_tools_gives_tool_calls(
    langchain: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    uses = [{"id": i, "name": n, "input": a} for i, n, a, _ in ROUNDS]
    mock.script(Reply(chunks=["Checking."], tool_uses=uses, stop_reason="tool_use"))
    result = _run(langchain, "langchain_driver.py", "bind_tools", proxy, tmp_path)
    calls = [(c["id"], c["name"], c["args"]) for c in result["tool_calls"]]
    assert calls == [(i, n, a) for i, n, a, _ in ROUNDS]
    assert result["content"] == "Checking."
    request = mock.requests[-1]
    assert request.offered() == LANGCHAIN_TOOLS.schemas
    assert _described(request) == LANGCHAIN_TOOLS.descriptions
    _asked(request, "Weather in Paris and the time in CET?")


def test_langchain_with_structured_output_json_schema(
    langchain: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    call = {"id": "toolu_structured_1", "name": "StructuredOutput", "input": {"city": "Paris", "temp": 21}}
    mock.script(Reply(chunks=["Here it is:"], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=["Done."]))
    result = _run(langchain, "langchain_driver.py", "structured", proxy, tmp_path)
    assert result == {"type": "Weather", "value": {"city": "Paris", "temp": 21}}
    first = mock.requests[0]
    structured = [t for t in first.body.get("tools") or [] if t["name"] == "StructuredOutput"]
    assert len(structured) == 1
    assert structured[0]["input_schema"] == {  # LangChain's strict json_schema of the pydantic model, as sent
        "type": "object",
        "title": "Weather",
        "properties": {"city": {"title": "City", "type": "string"}, "temp": {"title": "Temp", "type": "integer"}},
        "required": ["city", "temp"],
        "additionalProperties": False,
    }
    assert first.offered() == {}
    _asked(first, "Weather in Paris as JSON.")


def test_langchain_react_agent_two_tools_two_rounds(
    langchain: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    _script_loop(mock)
    result = _run(langchain, "langchain_driver.py", "agent", proxy, tmp_path)
    assert result["calls"] == EXPECTED_CALLS
    assert result["final"] == FINAL
    assert result["kinds"] == ["human", "ai", "tool", "ai", "tool", "ai"]
    _check_loop(mock, LANGCHAIN_TOOLS)


def test_langchain_gets_its_context_overflow_error(
    langchain: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Issue 27: a conversation too long for the model is LangChain's ``ContextOverflowError`` (it
    reads ``ContextWindowExceededError`` in the message), which an application catches to shorten
    its history; the shorter one is then answered. One upstream request each."""
    mock.set_context(scale=1, window=5000)  # 40,000 characters pass it; a short chat does not
    mock.script(Reply(chunks=["Going on."]))
    result = _run(langchain, "langchain_driver.py", "too_long", proxy, tmp_path)
    assert result["overflow"]["type"] == "OpenAIContextOverflowError"
    assert "Prompt is too long" in result["overflow"]["message"]
    assert result["content"] == "Going on."
    assert len(mock.requests) == 2
    assert "long words" in json.dumps(mock.requests[0].body["messages"])
    assert "long words" not in json.dumps(mock.requests[1].body["messages"])


# -- OpenAI Agents SDK ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["responses", "chat"], ids=["responses-model", "chat-completions-model"])
def test_agents_sdk_runner_two_tools_two_rounds(
    agents_sdk: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path, mode: str
) -> None:
    _script_loop(mock)
    result = _run(agents_sdk, "agents_driver.py", mode, proxy, tmp_path)
    assert result["calls"] == EXPECTED_CALLS
    assert result["final"] == FINAL
    assert result["responses"] == len(ROUNDS) + 1
    assert result["items"].count("tool_call_item") == len(ROUNDS)
    assert result["items"].count("tool_call_output_item") == len(ROUNDS)
    assert result["items"][-1] == "message_output_item"
    _check_loop(mock, AGENTS_TOOLS)
    system = " ".join(_texts(mock.requests[0].body.get("system")))
    assert "Use the tools." in system  # the Agent's instructions became the system prompt


def test_agents_sdk_run_too_long_raises_a_400(
    agents_sdk: Client, proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Issue 27: the Agents SDK does not compact on an error; ``Runner.run`` raises the 400 to the
    application, after one upstream request."""
    mock.set_context(scale=1, window=5000)
    result = _run(agents_sdk, "agents_driver.py", "too_long", proxy, tmp_path)
    assert (result["type"], result["status"]) == ("BadRequestError", 400)
    assert "Prompt is too long" in result["message"]
    assert len(mock.requests) == 1
