"""Large images and PDFs reach the model with nothing the client did not send (issue 10)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import openai
import pytest
from PIL import Image

from litellm_claude_code.translate.images import api_size
from tests.anthropic_mock import MockAnthropic

pytestmark = pytest.mark.e2e


def _encoded(width: int, height: int, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format=fmt)
    return out.getvalue()


def _user_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for m in body["messages"] if m["role"] == "user" and isinstance(m["content"], list) for b in m["content"]]


@pytest.mark.parametrize(
    ("width", "height", "fmt", "media_type"),
    [(2400, 60, "PNG", "image/png"), (3000, 3000, "JPEG", "image/jpeg")],
)
def test_a_large_image_arrives_scaled_as_the_api_would_with_no_added_text(
    client: openai.OpenAI, mock: MockAnthropic, width: int, height: int, fmt: str, media_type: str
) -> None:
    data = base64.b64encode(_encoded(width, height, fmt)).decode()
    content = [
        {"type": "text", "text": "What colour?"},
        {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}},
    ]
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": content}])
    blocks = _user_blocks(mock.requests[-1].body)
    assert [b["type"] for b in blocks] == ["text", "image"]  # no "[Image: original ...]" note
    assert blocks[0]["text"] == "What colour?"
    assert "[Image:" not in json.dumps(mock.requests[-1].body)
    source = blocks[1]["source"]
    assert source["media_type"] == media_type
    with Image.open(io.BytesIO(base64.b64decode(source["data"]))) as image:
        assert (image.format, image.size) == (fmt, api_size(width, height))
        assert max(image.size) <= 1568


def test_an_image_within_the_cli_limit_arrives_byte_for_byte(client: openai.OpenAI, mock: MockAnthropic) -> None:
    data = base64.b64encode(_encoded(1900, 1200, "PNG")).decode()
    content = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}]
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": content}])
    [image] = [b for b in _user_blocks(mock.requests[-1].body) if b["type"] == "image"]
    assert image["source"]["data"] == data


def test_a_pdf_file_part_arrives_as_a_document_block_byte_for_byte(client: openai.OpenAI, mock: MockAnthropic) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n%%EOF\n"
    data = base64.b64encode(pdf).decode()
    content = [
        {"type": "text", "text": "Summarise this."},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{data}", "filename": "a.pdf"}},
    ]
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": content}])
    blocks = _user_blocks(mock.requests[-1].body)
    documents = [b for b in blocks if b["type"] == "document"]
    assert len(documents) == 1
    assert documents[0]["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(documents[0]["source"]["data"]) == pdf
    assert [b["text"] for b in blocks if b["type"] == "text"] == ["Summarise this."]
