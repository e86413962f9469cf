"""Claude Code as a client of the proxy (issue 29): the CLI our SDK wheel bundles, headless.

``claude -p <prompt> --output-format json`` runs in a temporary project with its
own ``HOME`` and ``CLAUDE_CONFIG_DIR``, no standard input, every outside
connection refused, and nothing but ``ANTHROPIC_BASE_URL`` (the real proxy) and
the key (``ANTHROPIC_AUTH_TOKEN`` or ``ANTHROPIC_API_KEY``) to reach the model:
the configuration the README's client table gives. The proxy's own Claude Code
(the same CLI) talks to the mock; what the mock records is what the model got.

What Claude Code 2.1.331 sends: full model ids (``claude-opus-5-5`` by default,
``claude-sonnet-5-5``, ``claude-haiku-5-5`` for the aliases), eleven tools plus
``DeferredToolPlaceholder`` (``defer_loading: true``); the rest of its tools
(CronList, NotebookEdit, WebFetch, WebSearch, ...) are named in its first user
turn and loaded through its ``ToolSearch`` tool, whose result carries
``tool_reference`` blocks; the next request offers the tool found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import claude_agent_sdk
import httpx
import pytest

from tests.anthropic_mock import MockAnthropic, Recorded, Reply

from .client_kit import offline_env, run
from .harness import Proxy

pytestmark = pytest.mark.e2e

CLAUDE = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
# The tools Claude Code offers on its first request (2.1.331, headless, no MCP servers or plugins).
# Its DeferredToolPlaceholder (deferred, never referenced) is not shown to the model, as on the API.
CLAUDE_CODE_TOOLS = {
    "Agent",
    "Bash",
    "Edit",
    "ListAgents",
    "Read",
    "ReportFindings",
    "ScheduleWakeup",
    "Skill",
    "ToolSearch",
    "Workflow",
    "Write",
}
# Claude Code's ToolSearch reaches the model under the prefixed name (docs/function-calling.md).
TOOL_SEARCH = "mcp__client__ToolSearch"


def claude_json(
    proxy: Proxy, tmp_path: Path, prompt: str, *args: str, key: str | None = None, key_as: str = "ANTHROPIC_AUTH_TOKEN"
) -> dict[str, Any]:
    """``claude -p prompt --output-format json *args`` in ``tmp_path / "project"`` with ``key`` (the master
    key unless given): its result object."""
    home, project = tmp_path / "home", tmp_path / "project"
    for directory in (home, project):
        directory.mkdir(exist_ok=True)
    env = offline_env(
        home,
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        ANTHROPIC_BASE_URL=proxy.url,
        **{key_as: key or proxy.master_key},
    )
    done = run("claude -p", [str(CLAUDE), "-p", prompt, "--output-format", "json", *args], project, env, proxy)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["is_error"] is False, result
    return result


def _streamed(proxy: Proxy, tmp_path: Path, prompt: str, *args: str) -> list[dict[str, Any]]:
    """``claude -p`` with ``--output-format stream-json``: its messages, in order."""
    home, project = tmp_path / "home", tmp_path / "project"
    for directory in (home, project):
        directory.mkdir(exist_ok=True)
    env = offline_env(
        home, CLAUDE_CONFIG_DIR=str(home / ".claude"), ANTHROPIC_BASE_URL=proxy.url, ANTHROPIC_API_KEY=proxy.master_key
    )
    command = [str(CLAUDE), "-p", prompt, "--output-format", "stream-json", "--verbose", *args]
    done = run("claude -p (stream-json)", command, project, env, proxy)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _names(request: Recorded) -> list[str]:
    return sorted(t["name"] for t in request.body.get("tools") or [])


def _asked(request: Recorded, prompt: str) -> None:
    """The model got the prompt in the first user turn, and Claude Code's tools under their own names."""
    first = json.dumps(request.turns()[0]["content"])
    assert prompt in first
    names = set(_names(request))
    assert CLAUDE_CODE_TOOLS - {"ToolSearch"} | {TOOL_SEARCH} <= names, names
    assert "DeferredToolPlaceholder" not in names
    assert not [n for n in names if n.startswith("mcp__") and n != TOOL_SEARCH], names
    for tool in request.body["tools"]:
        assert "defer_loading" not in tool
        assert "defer_loading" not in tool["input_schema"]


@pytest.mark.parametrize(
    ("args", "model"),
    [((), "claude-opus-5-5"), (("--model", "opus"), "claude-opus-5-5"), (("--model", "haiku"), "claude-haiku-5-5")],
    ids=["default", "opus", "haiku"],
)
def test_plain_answer(proxy: Proxy, mock: MockAnthropic, tmp_path: Path, args: tuple[str, ...], model: str) -> None:
    prompt = "Reply with the word pong."
    mock.default = Reply(chunks=["pong", " from", " Claude."])
    result = claude_json(proxy, tmp_path, prompt, *args)
    assert result["result"] == "pong from Claude."
    assert list(result["modelUsage"]) == [model]  # the proxy answered as the model asked for
    [request] = mock.requests
    assert request.body["model"] == model
    _asked(request, prompt)


def test_streamed_answer_with_the_key_as_an_api_key(proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    mock.default = Reply(chunks=["first", " second", " third"])
    messages = _streamed(proxy, tmp_path, "Count to three.", "--model", "sonnet")
    texts = [
        b["text"] for m in messages if m["type"] == "assistant" for b in m["message"]["content"] if b["type"] == "text"
    ]
    assert texts == ["first second third"]
    assert messages[-1]["type"] == "result"
    assert messages[-1]["result"] == "first second third"
    assert [r.body["model"] for r in mock.requests] == ["claude-sonnet-5-5"]


def _tool_round(call: dict[str, Any], final: str) -> list[Reply]:
    return [Reply(chunks=[], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=[final])]


def _results(request: Recorded, call_id: str) -> dict[str, Any]:
    """The tool_result block answering ``call_id`` in what the model got."""
    [[block]] = request.tool_results()
    assert block["tool_use_id"] == call_id
    return dict(block)


def test_write_round_writes_in_the_clients_project(proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    target = tmp_path / "project" / "note.txt"
    call = {"id": "toolu_cc_write", "name": "Write", "input": {"file_path": str(target), "content": "hello\n"}}
    mock.script(*_tool_round(call, "Wrote note.txt."))
    result = claude_json(proxy, tmp_path, "Write hello into note.txt.", "--allowedTools", "Write")
    assert result["result"] == "Wrote note.txt."
    assert target.read_text() == "hello\n"
    _, second = mock.requests
    _asked(second, "Write hello into note.txt.")
    uses = [b for b in second.turns()[1]["content"] if b["type"] == "tool_use"]
    assert [(u["id"], u["name"], u["input"]) for u in uses] == [(call["id"], "Write", call["input"])]
    assert not _results(second, call["id"]).get("is_error")


def test_bash_round_output_reaches_the_model(proxy: Proxy, mock: MockAnthropic, tmp_path: Path) -> None:
    call = {"id": "toolu_cc_bash", "name": "Bash", "input": {"command": "echo ran-in-$(basename $PWD)"}}
    mock.script(*_tool_round(call, "It ran."))
    result = claude_json(proxy, tmp_path, "Run the echo.", "--allowedTools", "Bash")
    assert result["result"] == "It ran."
    assert "ran-in-project" in json.dumps(_results(mock.requests[1], call["id"])["content"])


def test_toolsearch_loads_a_deferred_tool_that_then_runs_in_the_client(
    proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    search = {"id": "toolu_cc_search", "name": TOOL_SEARCH, "input": {"query": "select:CronList", "max_results": 1}}
    cron = {"id": "toolu_cc_cron", "name": "CronList", "input": {}}
    mock.script(
        Reply(chunks=[], tool_uses=[search], stop_reason="tool_use"),
        Reply(chunks=[], tool_uses=[cron], stop_reason="tool_use"),
        Reply(chunks=["No jobs."]),
    )
    prompt = "List my scheduled jobs."
    result = claude_json(proxy, tmp_path, prompt)
    assert result["result"] == "No jobs."
    first, second, third = mock.requests
    assert "CronList" not in _names(first)
    assert "CronList" in json.dumps(first.turns()[0]["content"])  # named among Claude Code's deferred tools
    # ToolSearch's answer reaches the model as a tool_result naming the tool, which is offered from then on
    assert _results(second, search["id"])["content"][0] == {"type": "text", "text": "tool_reference: CronList"}
    for request in (second, third):
        _asked(request, prompt)
        assert "CronList" in _names(request)
    # the model's CronList call ran in the client (Claude Code answered it), and its output reached the model
    [_, [listed]] = third.tool_results()
    assert listed["tool_use_id"] == cron["id"]
    assert "No scheduled jobs" in json.dumps(listed["content"])


def test_count_tokens_is_answered_without_a_model_call(proxy: Proxy, mock: MockAnthropic) -> None:
    """Claude Code's ``/v1/messages/count_tokens?beta=true``: LiteLLM's own endpoint counts locally."""
    body = {
        "model": "claude-opus-5-5",
        "messages": [{"role": "user", "content": "How many tokens is this?"}],
        "tools": [{"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}],
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }
    response = httpx.post(
        f"{proxy.url}/v1/messages/count_tokens?beta=true",
        headers={"x-api-key": proxy.master_key, "anthropic-beta": "claude-code-20250219,token-counting-2024-11-01"},
        json=body,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    counted = response.json()
    assert counted["input_tokens"] > 0
    assert counted["litellm_count_source"] == "local_estimate"
    assert mock.requests == []
    assert mock.other_requests == []


def test_websearch_runs_through_the_proxys_search_and_its_results_reach_the_model(
    proxy: Proxy, mock: MockAnthropic, tmp_path: Path
) -> None:
    """Claude Code's WebSearch (deferred, loaded through ToolSearch) sends a request of its own offering
    the web_search server tool; the proxy answers it with the API's search blocks (test_search.py)."""
    search = {"id": "toolu_cc_ts", "name": TOOL_SEARCH, "input": {"query": "select:WebSearch", "max_results": 1}}
    web = {"id": "toolu_cc_web", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    inner = {"id": "toolu_inner_web", "name": "WebSearch", "input": {"query": "rain in Example City"}}
    mock.script(
        Reply(chunks=[], tool_uses=[search], stop_reason="tool_use"),
        Reply(chunks=[], tool_uses=[web], stop_reason="tool_use"),
        # Claude Code's search request, served by the proxy: the model searches, then answers
        Reply(chunks=[], tool_uses=[inner], stop_reason="tool_use"),
        Reply(chunks=["It rains 120 days a year (https://example.com/rain)."]),
        Reply(chunks=["Searched."]),
    )
    result = claude_json(proxy, tmp_path, "How often does it rain in Example City?", "--allowedTools", "WebSearch")
    assert result["result"] == "Searched."
    assert len(mock.searches) == 1
    last = mock.requests[-1]
    [searched] = [b for r in last.tool_results() for b in r if b["tool_use_id"] == web["id"]]
    assert "https://example.com/rain" in json.dumps(searched["content"])
