"""Conversation fidelity end to end: what the client sent is what Claude received."""

from __future__ import annotations

import base64
from typing import Any

import openai
import pytest

from tests.anthropic_mock import MockAnthropic, Reply

pytestmark = pytest.mark.e2e

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
USER = [{"role": "user", "content": "Hi"}]


def _image_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The image blocks of a message, without Claude Code's cache breakpoint (it marks the newest turn's last block)."""
    content = message.get("content") if isinstance(message.get("content"), list) else []
    images = [b for b in content if isinstance(b, dict) and b.get("type") == "image"]
    return [{k: v for k, v in b.items() if k != "cache_control"} for b in images]


def _user_turns(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "user"]


def test_image_parts_reach_the_model_as_image_blocks(client: openai.OpenAI, mock: MockAnthropic) -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    url_image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}, image]},
        {"role": "assistant", "content": "a picture"},
        {"role": "user", "content": [{"type": "text", "text": "and this?"}, url_image]},
    ]
    client.chat.completions.create(model="sonnet", messages=messages)
    users = _user_turns(mock.requests[-1].body)
    assert _image_blocks(users[0]) == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    ]
    assert _image_blocks(users[-1]) == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    ]


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("data:image/bmp;base64,Qk0=", "unsupported image type"),
        ("data:image/png;base64,@@@@", "not valid base64"),
    ],
)
def test_bad_images_are_400(client: openai.OpenAI, mock: MockAnthropic, url: str, complaint: str) -> None:
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url}}]
    with pytest.raises(openai.BadRequestError, match=complaint):
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": content}])
    assert mock.requests == []


def test_max_tokens_caps_the_upstream_request(client: openai.OpenAI, mock: MockAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=USER, max_completion_tokens=77)
    assert mock.requests[-1].body["max_tokens"] == 77


@pytest.mark.parametrize("stream", [False, True])
def test_stop_sequence_cuts_the_reply(client: openai.OpenAI, mock: MockAnthropic, stream: bool) -> None:
    mock.script(Reply(chunks=["one, two", ", thr", "ee, four"]))
    response: Any = client.chat.completions.create(model="sonnet", messages=USER, stop=["three"], stream=stream)
    if stream:
        chunks = list(response)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        text, finish = response.choices[0].message.content, [response.choices[0].finish_reason]
    assert text == "one, two, "
    assert finish == ["stop"]


def test_reasoning_effort_reaches_upstream(client: openai.OpenAI, mock: MockAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=USER, reasoning_effort="low")
    assert mock.requests[-1].body["output_config"]["effort"] == "low"


def test_reasoning_effort_none_turns_thinking_off(client: openai.OpenAI, mock: MockAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=USER, reasoning_effort="none")
    assert mock.requests[-1].body.get("thinking") is None


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_comes_back_as_reasoning_content(client: openai.OpenAI, mock: MockAnthropic, stream: bool) -> None:
    mock.script(Reply(thinking="Let me think.", chunks=["Answer."]))
    response: Any = client.chat.completions.create(model="sonnet", messages=USER, stream=stream)
    reasoning: str | None
    if stream:
        chunks = list(response)
        reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        message = response.choices[0].message
        reasoning, text = getattr(message, "reasoning_content", None), message.content
    assert reasoning == "Let me think."
    assert text == "Answer."


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"n": 2}, "n=2 is not supported"),
        ({"logprobs": True}, "logprobs"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ],
)
def test_unsupported_parameters_are_400(
    client: openai.OpenAI, mock: MockAnthropic, extra: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(openai.BadRequestError, match=complaint):
        client.chat.completions.create(model="sonnet", messages=USER, **extra)
    assert mock.requests == []


def test_ignored_sampling_parameters_are_accepted(client: openai.OpenAI, mock: MockAnthropic) -> None:
    response = client.chat.completions.create(
        model="sonnet",
        messages=USER,
        temperature=0.1,
        top_p=0.5,
        seed=3,
        presence_penalty=0.2,
        frequency_penalty=0.1,
        logit_bias={"50256": -100},
        user="end-user-1",
    )
    assert response.choices[0].message.content == "Hello from the mock."


def test_developer_and_several_system_messages_merge_in_order(client: openai.OpenAI, mock: MockAnthropic) -> None:
    messages = [
        {"role": "system", "content": "Rule one."},
        {"role": "developer", "content": "Rule two."},
        {"role": "user", "content": [{"type": "text", "text": "part A"}, {"type": "text", "text": "part B"}]},
    ]
    client.chat.completions.create(model="sonnet", messages=messages)
    body = mock.requests[-1].body
    system = " ".join(b["text"] for b in body["system"])
    assert system.index("Rule one.") < system.index("Rule two.")
    texts = [b["text"] for b in _user_turns(body)[-1]["content"]]
    assert texts == ["part A", "part B"]


def test_edited_history_is_what_the_model_sees(client: openai.OpenAI, mock: MockAnthropic) -> None:
    long = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]
    client.chat.completions.create(model="sonnet", messages=long)
    edited = [{"role": "user", "content": "q1-edited"}]
    client.chat.completions.create(model="sonnet", messages=edited)
    body = mock.requests[-1].body
    texts = [b["text"] for m in body["messages"] if m["role"] in ("user", "assistant") for b in m["content"]]
    assert texts == ["q1-edited"]


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "integer"}},
    "required": ["city", "temp"],
    "additionalProperties": False,
}


def _structured_replies(value: dict[str, Any]) -> list[Reply]:
    call = {"id": "toolu_structured_1", "name": "StructuredOutput", "input": value}
    return [Reply(chunks=["Here it is:"], tool_uses=[call], stop_reason="tool_use"), Reply(chunks=["Done."])]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_schema", "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA}},
        {"type": "json_object"},
    ],
)
def test_response_format_gives_json(
    client: openai.OpenAI, mock: MockAnthropic, stream: bool, response_format: dict[str, Any]
) -> None:
    import json

    import jsonschema

    mock.script(*_structured_replies({"city": "Paris", "temp": 21}))
    response = client.chat.completions.create(
        model="sonnet", messages=USER, response_format=response_format, stream=stream
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in response if c.choices)
    else:
        text = response.choices[0].message.content
    value = json.loads(text)
    assert value == {"city": "Paris", "temp": 21}
    jsonschema.validate(value, WEATHER_SCHEMA)
    offered = [t["name"] for t in mock.requests[0].body["tools"]]
    assert "StructuredOutput" in offered
