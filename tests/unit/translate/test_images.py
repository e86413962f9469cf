"""Image blocks: accepted as Claude takes them, refused with a reason otherwise."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from litellm_claude_code.translate.images import MAX_IMAGE_BYTES, ImageError, check_block


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


def _image(width: int, height: int, fmt: str, mode: str = "RGB") -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2400, 60), (1568, 39)),  # long edge to 1568
        ((3000, 3000), (1072, 1072)),  # area to about 1.15 megapixels
        ((1000, 800), (1000, 800)),  # small enough: unchanged
        ((4000, 1000), (1568, 392)),
    ],
)
def test_api_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    from litellm_claude_code.translate.images import api_size

    assert api_size(*size) == expected


@pytest.mark.parametrize(
    ("size", "fmt", "media_type", "mode"),
    [
        ((2400, 60), "PNG", "image/png", "RGBA"),
        ((3000, 3000), "JPEG", "image/jpeg", "RGB"),
        ((2001, 10), "WEBP", "image/webp", "RGB"),
        ((10, 2500), "GIF", "image/gif", "P"),
    ],
)
def test_fit_scales_what_claude_code_would_resize_keeping_format(
    size: tuple[int, int], fmt: str, media_type: str, mode: str
) -> None:
    import io

    from PIL import Image

    from litellm_claude_code.translate.images import api_size, fit

    scaled = fit(_image(*size, fmt, mode), media_type)
    assert scaled is not None
    with Image.open(io.BytesIO(scaled)) as image:
        assert (image.format, image.size) == (fmt, api_size(*size))


@pytest.mark.parametrize("data", [_image(2000, 2000, "PNG"), b"\x89PNG not really", b""])
def test_fit_leaves_small_or_unreadable_images_alone(data: bytes) -> None:
    from litellm_claude_code.translate.images import fit

    assert fit(data, "image/png") is None


def test_fit_turns_reaches_images_inside_tool_results() -> None:
    from litellm_claude_code.translate.images import fit_turns

    small, large = b64("image/png", _image(10, 10, "PNG")), b64("image/png", _image(2400, 60, "PNG"))
    small_data, large_data = small["source"]["data"], large["source"]["data"]
    turns = [{"role": "user", "content": [small, {"type": "tool_result", "tool_use_id": "t", "content": [large]}]}]
    fit_turns(turns)
    assert small["source"]["data"] == small_data
    assert large["source"]["data"] != large_data
    assert large["source"]["media_type"] == "image/png"
