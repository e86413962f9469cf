"""The runtime's keys: spares by deployment, setups by combination, turns by digest."""

from __future__ import annotations

from litellm_claude_code.runtime.keys import (
    asked_turns,
    combination,
    held_digests,
    poolable,
    spare_key,
    turn_digests,
)

from .fakes import ask, request

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def test_a_spare_key_is_the_deployment_not_the_request() -> None:
    assert spare_key(request(ask("one"))) == spare_key(request(ask("two", system="Other."), tools=[TOOL]))
    assert spare_key(request(ask("one"))) != spare_key(request(ask("one"), config_dir="/other"))


def test_json_output_and_web_search_never_share_a_process() -> None:
    assert poolable(request(ask("one")))
    assert not poolable(request(ask("one"), response_format={"type": "json_object"}))
    assert not poolable(request(ask("one"), web_search_options={}))
    assert not poolable(request(ask("one"), pool_size=0))


def test_what_a_process_holds_after_a_reply_is_the_history_the_question_and_the_reply() -> None:
    reply = [{"type": "text", "text": "two"}]
    asked = asked_turns(request([*ask("one"), {"role": "assistant", "content": "1"}, {"role": "user", "content": "2"}]))
    assert [turn["role"] for turn in asked] == ["user", "assistant", "user"]
    held = held_digests(turn_digests(asked), reply)
    assert held == turn_digests([*asked, {"role": "assistant", "content": reply}])


def test_the_combination_is_the_setup_and_the_offered_tools() -> None:
    chat = request(ask("one"))
    assert combination(chat) == combination(request(ask("other")))
    assert combination(chat) != combination(request(ask("one"), reasoning_effort="low"))
    assert combination(chat) != combination(request(ask("one"), tools=[TOOL]))
    assert combination(request(ask("one"), tools=[TOOL])) != combination(
        request(ask("one"), tools=[TOOL], tool_choice="required")
    )


def test_a_turn_digest_is_the_same_however_the_client_repeats_it() -> None:
    calls = [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1, "b": 2}}]
    assert turn_digests([{"role": "assistant", "content": [{"type": "text", "text": ""}, *calls]}]) == turn_digests(
        [{"role": "assistant", "content": [{**calls[0], "input": {"b": 2, "a": 1}}]}]
    )
    marked = {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    assert turn_digests([{"role": "user", "content": "hi"}]) == turn_digests([{"role": "user", "content": [marked]}])
    assert turn_digests([{"role": "user", "content": "hi"}]) != turn_digests([{"role": "assistant", "content": "hi"}])
    assert turn_digests([{"role": "user", "content": "hi"}]) != turn_digests([{"role": "user", "content": "hi!"}])
