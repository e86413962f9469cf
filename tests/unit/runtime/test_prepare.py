"""Preparing a process for a request: what each kind is told, and failing closed on a surprise."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code.runtime.forwarder import ANTHROPIC_API, Forwarder, Route
from litellm_claude_code.runtime.options import flag_settings
from litellm_claude_code.runtime.prepare import Preparation
from litellm_claude_code.runtime.process import Process, Processes
from litellm_claude_code.runtime.spares import spare_spec
from litellm_claude_code.runtime.workspace import SHARED_WORKDIR
from litellm_claude_code.sdk_seam import ControlError

from .fakes import WEATHER, FakeClient, Fakes, FakeTransport, ask, request


def make(fakes: Fakes, **answers: dict[str, Any]) -> tuple[Preparation, Counter[str]]:
    async def control(client: Any, request: dict[str, Any]) -> dict[str, Any]:
        fakes.controls.append(request)
        return answers.get(request["subtype"], {})

    stats: Counter[str] = Counter()
    return Preparation(Processes(fakes.seam(control=control)), stats), stats


def spare(tmp_path: Path, preparation: Preparation) -> Process:
    """A spare talked to through the preparation's seam."""
    return Process(str(tmp_path), "/cfg", "k", 0.0, preparation.processes.seam, transport=FakeTransport())


def used(tmp_path: Path, preparation: Preparation) -> Process:
    seam = preparation.processes.seam
    return Process(str(tmp_path), "/cfg", "k", 0.0, seam, client=FakeClient(), first_uuid="u1", last_uuid="u3")


REWOUND = {"rewound": True}
MODEL = {"model": "claude-sonnet-5-5"}


@pytest.mark.parametrize("tools", [False, True])
def test_a_spare_is_initialised_with_the_requests_prompt_and_its_tools(tmp_path: Path, tools: bool) -> None:
    fakes = Fakes(tmp_path)
    preparation, stats = make(fakes)
    process = spare(tmp_path, preparation)
    chat = request(ask("hi", system="Be kind."), tools=[WEATHER] if tools else None)
    asyncio.run(preparation.prepare(process, chat))
    expected: dict[str, Any] = {"systemPrompt": ["Be kind."]}
    if tools:
        expected["sdkMcpServers"] = ["client"]
    assert fakes.attached == [expected]
    assert process.client is fakes.clients[0]
    assert process.transport is None
    assert process.reusable is not tools
    assert fakes.controls == []
    assert stats == {"spare": 1}


def test_a_used_process_is_rewound_then_given_the_model_and_prompt(tmp_path: Path) -> None:
    fakes = Fakes(tmp_path)
    preparation, stats = make(fakes, rewind_conversation=REWOUND, set_model=MODEL)
    process = used(tmp_path, preparation)
    asyncio.run(preparation.prepare(process, request(ask("hi", system="Other."))))
    assert fakes.controls == [
        {"subtype": "rewind_conversation", "target_message_uuid": "u1", "last_seen_user_message_uuid": "u3"},
        {"subtype": "set_model", "model": "sonnet", "system_prompt": "Other."},
    ]
    assert (process.first_uuid, process.last_uuid) == (None, None)
    assert stats == {"reused": 1}


@pytest.mark.parametrize(
    "answers",
    [
        {"rewind_conversation": {"rewound": False}, "set_model": MODEL},
        {"rewind_conversation": {}, "set_model": MODEL},
        {"rewind_conversation": REWOUND, "set_model": {}},
        {"rewind_conversation": REWOUND, "set_model": {"model": None}},
    ],
    ids=["not-rewound", "rewind-unanswered", "set-model-unanswered", "no-model"],
)
def test_an_unexpected_answer_while_reusing_fails_closed(tmp_path: Path, answers: dict[str, dict[str, Any]]) -> None:
    preparation, stats = make(Fakes(tmp_path), **answers)
    with pytest.raises(ControlError):
        asyncio.run(preparation.prepare(used(tmp_path, preparation), request(ask("hi"))))
    assert stats["reused"] == 0


@pytest.mark.parametrize("start", [spare, used])
def test_controls_are_applied_as_flag_settings_and_the_process_is_not_reused_after(tmp_path: Path, start: Any) -> None:
    fakes = Fakes(tmp_path)
    preparation, _ = make(fakes, rewind_conversation=REWOUND, set_model=MODEL)
    process = start(tmp_path, preparation)
    process.reusable = True
    chat = request(ask("hi"), reasoning_effort="low")
    asyncio.run(preparation.prepare(process, chat))
    assert fakes.controls[-1] == {"subtype": "apply_flag_settings", "settings": flag_settings(chat)}
    assert flag_settings(chat) == {"effortLevel": "low"}
    assert process.reusable is False


def test_flag_settings_carry_the_controls_environment() -> None:
    assert flag_settings(request(ask("hi"))) is None
    settings = flag_settings(request(ask("hi"), reasoning_effort="none", max_tokens=99))
    assert settings == {"env": {"CLAUDE_CODE_DISABLE_THINKING": "1", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "99"}}


@pytest.mark.parametrize(
    ("params", "turns", "reusable"),
    [({}, None, True), ({"tools": [WEATHER]}, None, False), ({"reasoning_effort": "low"}, None, False), ({}, 1, False)],
    ids=["plain", "tools", "controls", "resumed"],
)
def test_a_cold_process_is_reusable_for_plain_chat_only(
    tmp_path: Path, params: dict[str, Any], turns: int | None, reusable: bool
) -> None:
    fakes = Fakes(tmp_path)
    preparation, stats = make(fakes)
    chat = request(ask("hi"), work_root=str(tmp_path / "work"), config_dir=str(tmp_path), **params)
    history = [{"role": "user", "content": "earlier"}] * (turns or 0)
    process = asyncio.run(preparation.cold(chat, spare_spec(chat), history or None))
    assert process.client is fakes.clients[0]
    assert process.reusable is reusable
    assert (fakes.connected[0].resume is not None) is bool(turns)
    assert stats == {"started": 1}
    asyncio.run(process.aclose())


def test_a_cold_start_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    async def refuse(options: Any) -> FakeClient:
        raise OSError("no CLI")

    work = tmp_path / "work"
    chat = request(ask("hi"), work_root=str(work), config_dir=str(tmp_path))
    processes = Processes(Fakes(tmp_path).seam(connect=refuse))
    preparation = Preparation(processes, Counter())
    with pytest.raises(OSError, match="no CLI"):
        asyncio.run(preparation.cold(chat, spare_spec(chat), None))
    assert processes.all() == []  # closed and forgotten
    assert list(work.iterdir()) == [work / SHARED_WORKDIR]  # the directory every process shares, empty
    assert list((work / SHARED_WORKDIR).iterdir()) == []


class Routes(Forwarder):
    """A search forwarder that hands out routes without a server (the routes' own tests run one)."""

    def __init__(self) -> None:
        super().__init__()
        self.upstreams: list[str] = []

    async def route(self, upstream: str) -> Route:
        self.upstreams.append(upstream)
        return Route(self, f"t{len(self.upstreams)}", upstream, f"http://127.0.0.1:1/forward/t{len(self.upstreams)}")


@pytest.mark.parametrize(("base_url", "upstream"), [(None, ANTHROPIC_API), ("https://gw.example/api", None)])
def test_a_searched_requests_process_reaches_its_api_through_a_route_of_its_own(
    tmp_path: Path, base_url: str | None, upstream: str | None
) -> None:
    """Its ANTHROPIC_BASE_URL is the route's, which goes on to the deployment's API; closing it closes the route."""
    fakes = Fakes(tmp_path)
    forwarder = Routes()
    preparation = Preparation(Processes(fakes.seam()), Counter(), forwarder=forwarder)
    chat = request(ask("hi"), work_root=str(tmp_path / "work"), config_dir=str(tmp_path), web_search_options={})
    if base_url is not None:
        chat = dataclasses.replace(chat, account_env={**chat.account_env, "ANTHROPIC_BASE_URL": base_url})
    process = asyncio.run(preparation.cold(chat, spare_spec(chat), None))
    assert forwarder.upstreams == [upstream or base_url]
    assert process.route is not None
    assert fakes.connected[0].env["ANTHROPIC_BASE_URL"] == process.route.url
    plain = request(ask("hi"), work_root=str(tmp_path / "work"), config_dir=str(tmp_path))
    other = asyncio.run(preparation.cold(plain, spare_spec(plain), None))
    assert other.route is None  # a request without search talks to its API directly
    assert "ANTHROPIC_BASE_URL" not in fakes.connected[1].env
    assert forwarder.upstreams == [upstream or base_url]
    forwarder.drop = lambda token: forwarder.upstreams.append(f"dropped {token}")  # type: ignore[method-assign]
    asyncio.run(process.aclose())
    assert forwarder.upstreams[-1] == "dropped t1"
    asyncio.run(other.aclose())


def test_a_forwarder_that_cannot_start_leaves_the_search_to_its_api_directly(tmp_path: Path) -> None:
    class Unstartable(Forwarder):
        async def route(self, upstream: str) -> Route:
            raise OSError(98, "Address already in use")

    fakes = Fakes(tmp_path)
    preparation = Preparation(Processes(fakes.seam()), Counter(), forwarder=Unstartable())
    chat = request(ask("hi"), work_root=str(tmp_path / "work"), config_dir=str(tmp_path), web_search_options={})
    process = asyncio.run(preparation.cold(chat, spare_spec(chat), None))
    assert process.route is None
    assert "ANTHROPIC_BASE_URL" not in fakes.connected[0].env
    asyncio.run(process.aclose())
