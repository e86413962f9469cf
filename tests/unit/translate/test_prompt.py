"""OpenAI messages -> system prompt, earlier turns and the new user turn."""

from __future__ import annotations

from typing import Any

import pytest

from litellm_claude_code.translate.prompt import Conversation, PromptError, convert, json_bytes

PNG = "iVBORw0KGgo="


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            [{"role": "user", "content": "hi"}],
            Conversation(system=None, history=[], prompt=[text("hi")]),
        ),
        (
            [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
            Conversation(system="Be terse.", history=[], prompt=[text("hi")]),
        ),
        (
            [
                {"role": "system", "content": "A"},
                {"role": "developer", "content": [text("B")]},
                {"role": "user", "content": [text("hi")]},
            ],
            Conversation(system="A\n\nB", history=[], prompt=[text("hi")]),
        ),
        (
            [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"},
                {"role": "user", "content": "three"},
            ],
            Conversation(
                system="S",
                history=[
                    {"role": "user", "content": [text("one")]},
                    {"role": "assistant", "content": [text("two")]},
                ],
                prompt=[text("three")],
            ),
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        text("what"),
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ],
            Conversation(
                system=None,
                history=[],
                prompt=[
                    text("what"),
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            ),
        ),
    ],
)
def test_conversion(messages: list[dict[str, Any]], expected: Conversation) -> None:
    assert convert(messages) == expected


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        ([], "non-empty list"),
        ([{"role": "user", "content": "x" * (9 * 1024 * 1024)}], "too large"),
        ([{"role": "system", "content": "only"}], "user message"),
        ([{"role": "wizard", "content": "hi"}], "role 'wizard'"),
        (["hi"], r"messages\[0\] must be an object"),
        ([{"role": "user", "content": 42}], "content must be a string or a list"),
        (
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            "last message must be from the user",
        ),
        ([{"role": "user", "content": "   "}], "empty"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}]}],
            "unsupported image type 'image/bmp'",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}],
            "not valid base64",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}],
            "invalid messages",
        ),
        ([{"role": "user", "content": [{"type": "text", "text": ""}]}], "empty"),
    ],
)
def test_refusals_name_the_problem(messages: list[Any], complaint: str) -> None:
    with pytest.raises(PromptError, match=complaint):
        convert(messages)


def _tool_round(result: dict[str, Any]) -> list[dict[str, Any]]:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "boom", **result},
    ]


@pytest.mark.parametrize(
    ("extra", "failed", "is_error"),
    [({}, (), None), ({"is_error": True}, (), True), ({}, ("call_1",), True), ({"is_error": "yes"}, (), None)],
)
def test_tool_results_are_the_new_turn_marked_as_the_client_marked_them(
    extra: dict[str, Any], failed: tuple[str, ...], is_error: bool | None
) -> None:
    conversation = convert(_tool_round(extra), failed_calls=failed)
    assert conversation.answers_tool_calls
    [block] = conversation.prompt
    assert (block["type"], block["tool_use_id"], block.get("is_error")) == ("tool_result", "call_1", is_error)
    assert [t["role"] for t in conversation.history] == ["user", "assistant"]


def test_failed_tool_calls_read_off_an_anthropic_body() -> None:
    from litellm_claude_code.proxy.hooks import failed_tool_calls

    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "a", "content": "ok"},
                {"type": "tool_result", "tool_use_id": "b", "content": "bad", "is_error": True},
                "not a block",
            ],
        },
    ]
    assert failed_tool_calls(messages) == ["b"]
    assert failed_tool_calls("nonsense") == []


def test_conversion_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # LiteLLM prints a "Provider List" banner to stdout when the model it is given
    # for the Anthropic transformation is unknown: once per request in the proxy's log.
    convert([{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}])
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


@pytest.mark.parametrize(
    ("value", "sort_keys", "expected"),
    [
        ({"b": 1, "a": ["é", None, 1.5]}, False, '{"b":1,"a":["é",null,1.5]}'),
        ({"b": 1, "a": {"d": 1, "c": 2}}, True, '{"a":{"c":2,"d":1},"b":1}'),
        # What orjson refuses and JSON allows takes the standard encoder, never an error.
        ({"n": 2**70}, False, '{"n":1180591620717411303424}'),
        ({1: "x", "a": True}, False, '{"1":"x","a":true}'),
        ({"when": object}, False, '{"when":"<class \'object\'>"}'),
    ],
)
def test_json_bytes_is_compact_utf8_json_of_anything(value: object, sort_keys: bool, expected: str) -> None:
    assert json_bytes(value, sort_keys=sort_keys) == expected.encode()
