"""Image blocks: accepted as Claude takes them, refused with a reason otherwise."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from litellm_claude_code.images import MAX_IMAGE_BYTES, ImageError, check_block


def b64(media_type: str, data: bytes) -> dict[str, Any]:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()},
    }


@pytest.mark.parametrize(
    "block",
    [
        b64("image/png", b"\x89PNG"),
        b64("image/jpeg", b"jpg"),
        b64("image/gif", b"GIF89a"),
        b64("image/webp", b"RIFF"),
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    ],
)
def test_accepted(block: dict[str, Any]) -> None:
    check_block(block, "turn 0")


@pytest.mark.parametrize(
    ("block", "complaint"),
    [
        (b64("image/bmp", b"BM"), "unsupported image type"),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "!!!"}}, "not valid base64"),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}, "empty"),
        (b64("image/png", b"\0" * (MAX_IMAGE_BYTES + 10)), "larger than 5 MB"),
        ({"type": "image", "source": {"type": "url", "url": "ftp://x/a.png"}}, "http"),
        ({"type": "image", "source": {"type": "file", "file_id": "f"}}, "unsupported image source"),
    ],
)
def test_refused(block: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ImageError, match=complaint):
        check_block(block, "turn 0")
