"""The runtime's facade with fakes: which process serves a request, what it is told, what is kept."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from litellm_claude_code.runtime import choose, live
from litellm_claude_code.runtime.runner import QueryTimeout

from ..sdk_messages import message_start, result
from .fakes import WEATHER, FakeClient, Fakes, ask, request, serve


def test_a_new_conversation_takes_a_spare_initialised_with_its_own_system_prompt(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime()
        await serve(runtime, request(ask("one")), reply=None)  # no spare yet: started for it; a spare follows
        await runtime.settled()
        assert (len(fakes.connected), fakes.spawned) == (1, 1)
        await serve(runtime, request(ask("two", system="Be kind.")), reply=None)
        assert fakes.attached[-1] == {"systemPrompt": ["Be kind."]}
        assert fakes.clients[-1].prompts() == [[{"type": "text", "text": "two"}]]
        assert len(fakes.connected) == 1  # no process started on the request's path
        await runtime.close()

    asyncio.run(scenario())


def test_a_continued_conversation_goes_on_in_its_process_with_only_its_new_turn(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime()
        first = ask("one")
        await serve(runtime, request(first), reply="answer one")
        client = fakes.clients[0]
        follow = [*first, {"role": "assistant", "content": "answer one"}, {"role": "user", "content": "two"}]
        await serve(runtime, request(follow))
        assert client.prompts() == [[{"type": "text", "text": "one"}], [{"type": "text", "text": "two"}]]
        assert not any(f.get("shouldQuery") is False for f in client.sent)  # nothing fed again
        assert fakes.controls == []  # no rewind
        await runtime.close()

    asyncio.run(scenario())


def test_another_conversation_reuses_an_idle_process_after_a_rewind_with_history_fed(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False, replay=False)
        await serve(runtime, request(ask("one")), reply="answer one")
        client = fakes.clients[0]
        first_uuid = client.sent[0]["uuid"]
        other = [
            {"role": "system", "content": "Other."},
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": "now"},
        ]
        await serve(runtime, request(other))
        assert fakes.controls[0] == {
            "subtype": "rewind_conversation",
            "target_message_uuid": first_uuid,
            "last_seen_user_message_uuid": first_uuid,
        }
        assert fakes.controls[1] == {"subtype": "set_model", "model": "sonnet", "system_prompt": "Other."}
        fed = [(f["type"], f.get("shouldQuery"), f["message"]["content"]) for f in client.sent[1:]]
        assert fed == [
            ("user", False, [{"type": "text", "text": "earlier"}]),
            ("assistant", None, [{"type": "text", "text": "reply"}]),
            ("user", None, [{"type": "text", "text": "now"}]),
        ]
        assert len(fakes.connected) == 1
        assert fakes.spawned == 0
        await runtime.close()

    asyncio.run(scenario())


def test_an_unconfirmed_rewind_discards_the_process_and_serves_the_request_fresh(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path, rewound=False)
        runtime = fakes.runtime(spares=False)
        await serve(runtime, request(ask("one")))
        used = fakes.clients[0]
        await serve(runtime, request(ask("two", system="Other.")))
        assert used.disconnected
        assert len(fakes.connected) == 2
        assert fakes.clients[1].prompts() == [[{"type": "text", "text": "two"}]]
        assert len(runtime.processes()) == 1  # the discarded one is no longer the runtime's
        await runtime.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("reply", "read", "kept"),
    [
        ("kept", True, True),  # the turn gave its result and the answer says what the process holds
        (None, True, False),  # the answer did not end cleanly (a failure, a cut stop sequence)
        ("unsettled", False, False),  # a reply, but the turn was closed before its result
    ],
)
def test_a_process_is_kept_only_after_a_turn_that_ended_with_a_reply(
    tmp_path: Path, reply: str | None, read: bool, kept: bool
) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        fakes.results = [[message_start(), result()]]  # the answer begins, then its result
        runtime = fakes.runtime(spares=False)
        async with runtime.turn(request(ask("one"))) as turn:
            async with contextlib.aclosing(turn.messages()) as messages:
                async for _ in messages:
                    if not read:
                        break  # closed before its result: the process may still be answering
            turn.hold(None if reply is None else [{"type": "text", "text": reply}])
        assert fakes.clients[0].disconnected is not kept
        assert len(runtime.idle()) == (1 if kept else 0)
        await runtime.close()

    asyncio.run(scenario())


def test_a_tool_conversation_never_takes_an_idle_process_and_leaves_none_to_reuse(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime()
        await serve(runtime, request(ask("plain"), pool_size=2))  # leaves an idle plain process and spares
        await runtime.settled()
        await serve(runtime, request(ask("weather?"), pool_size=2, tools=[WEATHER]), reply="text only")
        assert fakes.attached == [{"systemPrompt": ["Be terse."], "sdkMcpServers": ["client"]}]
        assert fakes.controls == []  # the idle plain process was not rewound for it
        await serve(runtime, request(ask("plain again", system="Other."), pool_size=2))
        rewound = [c for c in fakes.controls if c["subtype"] == "rewind_conversation"]
        assert len(rewound) == 1
        # served by the plain process, not the tool one
        assert fakes.clients[0].prompts()[-1] == [{"type": "text", "text": "plain again"}]
        assert [{"type": "text", "text": "plain again"}] not in fakes.clients[1].prompts()
        await runtime.close()

    asyncio.run(scenario())


def test_a_request_waits_for_a_spare_being_started_instead_of_starting_another(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        fakes.starts = asyncio.Event()  # spares are held while starting
        runtime = fakes.runtime()
        await serve(runtime, request(ask("one")), reply=None)  # cold; then a spare starts in the background
        await fakes.starting.wait()
        assert (fakes.spawned, runtime.idle()) == (1, [])
        second = asyncio.create_task(serve(runtime, request(ask("two")), reply=None))
        fakes.starts.set()  # the second request runs first (it was scheduled first) and claims the start
        await second
        assert runtime.stats["waited"] == 1  # it waited for that start ...
        assert len(fakes.connected) == 1  # ... and started none of its own
        assert fakes.attached == [{"systemPrompt": ["Be terse."]}]
        await runtime.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("slow", ["start", "turn", "both"])
def test_one_deadline_covers_waiting_for_a_process_and_the_turn(tmp_path: Path, slow: str) -> None:
    """The request's timeout is one deadline from its arrival: a slow start leaves the turn only the rest."""
    start_takes, timeout = 1.0, 1.5

    async def scenario() -> float:
        fakes = Fakes(tmp_path)
        connect = fakes.connect
        if slow in ("start", "both"):

            async def connect(options: Any) -> FakeClient:  # a start that takes a while (the behaviour under test)
                client = await fakes.connect(options)
                await asyncio.sleep(start_takes if slow == "both" else 60)
                return client

        if slow in ("turn", "both"):

            async def never_answers(client: FakeClient) -> None:
                await asyncio.Event().wait()

            fakes.on_query = never_answers
        runtime = fakes.runtime(fakes.seam(connect=connect), spares=False)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(QueryTimeout) as passed:
            await serve(runtime, request(ask("one"), timeout=timeout))
        assert passed.value.seconds == timeout  # the request's own time, for its 408
        elapsed = loop.time() - started
        assert runtime.processes() == []  # the process it waited for, or that ran out of time, is closed
        await runtime.close()
        return elapsed

    # Separate deadlines for the start and the turn would give start_takes + timeout = 2.5 s.
    assert timeout <= asyncio.run(scenario()) < timeout + 0.7


def test_a_process_retires_after_its_conversations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "MAX_CONVERSATIONS", 2)

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        for index in range(3):
            await serve(runtime, request(ask(f"q{index}", system=f"S{index}")))
        assert fakes.clients[0].disconnected
        assert len(fakes.connected) == 2
        await runtime.close()

    asyncio.run(scenario())


def test_a_continued_conversation_counts_once_toward_retirement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "MAX_CONVERSATIONS", 2)

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        turns = ask("q0")
        for index in range(4):  # one conversation, four requests: each goes on in the same process
            await serve(runtime, request(turns), reply=f"a{index}")
            turns = [
                *turns,
                {"role": "assistant", "content": f"a{index}"},
                {"role": "user", "content": f"q{index + 1}"},
            ]
        assert len(fakes.connected) == 1
        assert not fakes.clients[0].disconnected
        await runtime.close()

    asyncio.run(scenario())


def test_idle_processes_expire(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        now = [0.0]
        runtime = fakes.runtime(spares=False, clock=lambda: now[0])
        await serve(runtime, request(ask("one")))
        assert runtime.expire() == 0
        now[0] = 301.0
        assert runtime.expire() == 1
        await runtime.settled()
        assert fakes.clients[0].disconnected
        await runtime.close()

    asyncio.run(scenario())


def test_a_background_start_waits_while_the_cpu_is_saturated(tmp_path: Path) -> None:
    async def scenario() -> None:
        readings = iter([0.99, 0.97, 0.2])

        async def busy() -> float:
            return next(readings, 0.0)

        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(busy=busy)
        await serve(runtime, request(ask("one")), reply=None)
        await runtime.settled()
        assert fakes.spawned == 1
        assert runtime.stats["deferred"] == 2  # two saturated readings, then the start
        await runtime.close()

    asyncio.run(scenario())


def test_a_deadline_while_a_spare_is_initialised_closes_it(tmp_path: Path) -> None:
    fakes = Fakes(tmp_path)

    async def scenario() -> None:
        async def hung_attach(transport: Any, options: Any, extra: dict[str, Any]) -> FakeClient:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        runtime = fakes.runtime(fakes.seam(attach=hung_attach))
        await runtime.prewarm(request(ask("warm")), 1)
        with pytest.raises(QueryTimeout):
            await serve(runtime, request(ask("one"), timeout=0.2))
        assert runtime.idle() == []
        assert runtime.processes() == []  # closed, not left running untracked
        await runtime.close()

    asyncio.run(scenario())
    assert fakes.transports[0].closed


CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}


def test_the_results_of_tool_calls_go_to_the_process_that_made_them_with_nothing_fed(tmp_path: Path) -> None:
    """Issue 19: the process that answered with tool calls keeps the conversation for its results."""

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        first = ask("weather?")
        await serve(runtime, request(first, tools=[WEATHER]), [{"type": "text", "text": "Checking."}, CALL])
        call = {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
        results = [
            *first,
            {"role": "assistant", "content": "Checking.", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        ]
        await serve(runtime, request(results, tools=[WEATHER]))
        [client] = fakes.clients  # the same process, no other started
        assert [p[0]["type"] for p in client.prompts()] == ["text", "tool_result"]
        assert not any(f.get("shouldQuery") is False for f in client.sent)  # nothing fed again
        assert fakes.controls == []
        assert runtime.stats["live"] == 1
        await runtime.close()

    asyncio.run(scenario())


def test_tool_results_whose_tools_changed_go_to_another_process(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        first = ask("weather?")
        await serve(runtime, request(first, tools=[WEATHER]), [CALL])
        call = {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
        results = [
            *first,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        ]
        await serve(runtime, request(results, tools=[WEATHER], tool_choice="required"))
        assert len(fakes.clients) == 2  # the rules differ: a process set up for them, the history fed
        assert runtime.stats["live"] == 0
        await runtime.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("edited", [False, True], ids=["regenerated", "edited"])
def test_a_conversation_asked_again_from_an_earlier_turn_is_cut_back_to_it(tmp_path: Path, edited: bool) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        first = ask("one")
        await serve(runtime, request(first), reply="answer one")
        second = [*first, {"role": "assistant", "content": "answer one"}, {"role": "user", "content": "two"}]
        await serve(runtime, request(second), reply="answer two")
        [client] = fakes.clients
        two_uuid = client.sent[-1]["uuid"]
        again = [*first, {"role": "assistant", "content": "answer one"}, {"role": "user", "content": "two, edited"}]
        await serve(runtime, request(again if edited else second))
        assert fakes.controls == [
            {
                "subtype": "rewind_conversation",
                "target_message_uuid": two_uuid,
                "last_seen_user_message_uuid": two_uuid,
            }
        ]
        assert len(fakes.clients) == 1
        assert client.prompts()[-1] == [{"type": "text", "text": "two, edited" if edited else "two"}]
        assert not any(f.get("shouldQuery") is False for f in client.sent)
        assert runtime.stats["rewound"] == 1
        await runtime.close()

    asyncio.run(scenario())


def test_a_failed_cut_discards_the_process_and_the_request_is_served_elsewhere(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path, rewound=False)
        runtime = fakes.runtime(spares=False)
        first = ask("one")
        await serve(runtime, request(first), reply="answer one")
        second = [*first, {"role": "assistant", "content": "answer one"}, {"role": "user", "content": "two"}]
        await serve(runtime, request(second), reply="answer two")
        await serve(runtime, request(second))
        assert fakes.clients[0].disconnected
        assert len(fakes.clients) == 2
        fed = [f["message"]["content"][0]["text"] for f in fakes.clients[1].sent]
        assert fed == ["one", "two"]  # "one" asked (its answer replayed), "two" asked
        await runtime.close()

    asyncio.run(scenario())


def test_a_fed_history_has_its_first_answer_replayed_from_loopback_then_the_rest_fed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: the first user turn is asked for real, answered by a loopback server with the
    answer the client sent, so the process holds it as one that answered it itself would."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://upstream.example")
    asked: list[Any] = []

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        history = [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "second answer"},
            {"role": "user", "content": "now"},
        ]

        async def answered_by_replay(client: FakeClient) -> None:
            # What the CLI does with the first frame: ask the API it was pointed at.
            [point] = [c for c in fakes.controls if c["subtype"] == "apply_flag_settings"]
            url = point["settings"]["env"]["ANTHROPIC_BASE_URL"]
            async with httpx.AsyncClient() as http:
                response = await http.post(f"{url}/v1/messages", json={"model": "claude-x", "stream": True})
                again = await http.post(f"{url}/v1/messages", json={"model": "claude-x", "stream": True})
            asked.append((url, response.status_code, response.text, again.status_code))

        fakes.on_query = answered_by_replay
        await serve(runtime, request(history))
        [client] = fakes.clients
        sent = [(f["type"], f.get("shouldQuery"), f["message"]["content"][0]["text"]) for f in client.sent]
        assert sent == [
            ("user", None, "first"),  # asked, answered by the replay
            ("user", False, "second"),  # the rest fed as before
            ("assistant", None, "second answer"),
            ("user", None, "now"),
        ]
        points = [c["settings"]["env"]["ANTHROPIC_BASE_URL"] for c in fakes.controls]
        assert points[0].startswith("http://127.0.0.1:")
        assert points[1] == "http://upstream.example"  # pointed back before anything else
        assert runtime.stats["replayed"] == 1
        await runtime.close()

    asyncio.run(scenario())
    [(_, status, text, again)] = asked
    assert status == 200
    assert '"text_delta", "text": "first answer"' in text
    assert '"stop_reason": "end_turn"' in text
    assert again == 404  # each replay is answered once


def test_a_failed_replay_discards_the_process_turns_replaying_off_and_feeds_the_history(tmp_path: Path) -> None:
    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        history = [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "now"},
        ]
        fakes.results = [dataclasses.replace(result(), is_error=True, subtype="error_during_execution")]
        await serve(runtime, request(history))
        failed, fed = fakes.clients
        assert failed.disconnected
        assert [f.get("shouldQuery") for f in fed.sent if f["type"] == "user"] == [False, None]
        assert runtime.stats["replayed"] == 0
        await serve(runtime, request([*history[:2], {"role": "user", "content": "other"}]))
        assert not any(c["subtype"] == "apply_flag_settings" for c in fakes.controls[2:])  # off for good
        await runtime.close()

    asyncio.run(scenario())


def test_a_process_that_resumed_a_long_history_is_kept_for_the_conversations_next_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(choose, "SEED_MAX_TURNS", 2)  # past it a transcript is resumed, not fed

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        history = [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "answer one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "answer two"},
            {"role": "user", "content": "three"},
        ]
        await serve(runtime, request(history), reply="answer three")
        assert runtime.stats["resumed"] == 1
        [client] = fakes.clients
        follow = [*history, {"role": "assistant", "content": "answer three"}, {"role": "user", "content": "four"}]
        await serve(runtime, request(follow))
        assert len(fakes.clients) == 1  # the same process: kept, not started again
        assert runtime.stats["live"] == 1
        assert client.prompts()[-1] == [{"type": "text", "text": "four"}]
        await runtime.close()

    asyncio.run(scenario())


def test_a_searched_process_replaying_a_first_answer_is_pointed_back_at_its_search_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A searched request answering tool calls gets a process of its own, its history's first answer
    replayed: afterwards its API is its search forwarder's route again, not the deployment's."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://upstream.example")

    async def scenario() -> None:
        fakes = Fakes(tmp_path)
        runtime = fakes.runtime(spares=False)
        call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        history: list[dict[str, Any]] = [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ]
        await serve(runtime, request(history, tools=[WEATHER], web_search_options={}))
        [connected] = fakes.connected
        route = connected.env["ANTHROPIC_BASE_URL"]
        assert route.startswith("http://127.0.0.1:")
        assert "/forward/" in route
        points = [c["settings"]["env"]["ANTHROPIC_BASE_URL"] for c in fakes.controls]
        assert points[0].startswith("http://127.0.0.1:")
        assert "/replay/" in points[0]
        assert points[1] == route  # pointed back at its route, which goes on to http://upstream.example
        assert runtime.stats["replayed"] == 1
        await runtime.close()

    asyncio.run(scenario())
