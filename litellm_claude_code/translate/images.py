"""Image blocks checked before they reach Claude: a clear 400 instead of an
upstream failure (or a silent drop) for data Claude cannot take.

Limits follow the Anthropic Messages API: PNG, JPEG, GIF or WebP, at most
5 MB per image; URL images are passed as URL sources (Anthropic fetches them,
this server does not).

Claude Code resizes a base64 image over 2000 px on a side itself and appends
a text block ("[Image: original WxH, displayed at ...]") the client never sent
(issue 10). Such an image is scaled here first, to the size the API itself
scales large images to (``api_size``), in its own format, so Claude Code
passes it on untouched; every other image goes through byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image, UnidentifiedImageError

MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
URL_SCHEMES = ("https://", "http://")


class ImageError(ValueError):
    """An image part Claude cannot take (a 400)."""


def _check_base64(source: Mapping[str, Any], where: str) -> None:
    media_type = source.get("media_type")
    if media_type not in MEDIA_TYPES:
        raise ImageError(f"{where}: unsupported image type {media_type!r}; use one of {sorted(MEDIA_TYPES)}")
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise ImageError(f"{where}: the image data is empty")
    if len(data) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise ImageError(f"{where}: the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"{where}: the image data is not valid base64") from None


def _check_url(source: Mapping[str, Any], where: str) -> None:
    url = source.get("url")
    if not isinstance(url, str) or not url.startswith(URL_SCHEMES):
        raise ImageError(f"{where}: image URLs must be http(s) or data: URLs")


def check_block(block: Mapping[str, Any], where: str) -> None:
    """Raise ImageError when an Anthropic image block is unusable."""
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        _check_base64(source, where)
    elif kind == "url":
        _check_url(source, where)
    else:
        raise ImageError(f"{where}: unsupported image source {kind!r}")


def check_turns(turns: Iterable[Mapping[str, Any]]) -> None:
    """Check every image block of Anthropic turns."""
    for index, turn in enumerate(turns):
        content = turn.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, Mapping) and block.get("type") == "image":
                check_block(block, f"turn {index}")


# Claude Code's own threshold: an image larger than this on a side is resized by the CLI.
CLI_MAX_SIDE = 2000
# What the Messages API does to a large image: its long edge fits 1568 px and
# its area about 1.15 megapixels (~1,600 tokens), aspect kept.
API_MAX_SIDE = 1568
API_MAX_PIXELS = 1_150_000
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


def api_size(width: int, height: int) -> tuple[int, int]:
    """The size the Messages API scales an image of ``width`` x ``height`` to."""
    scale = min(1.0, API_MAX_SIDE / max(width, height), math.sqrt(API_MAX_PIXELS / (width * height)))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def fit(data: bytes, media_type: str) -> bytes | None:
    """The image re-encoded at ``api_size`` when Claude Code would resize it, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max(width, height) <= CLI_MAX_SIDE:
                return None
            scaled = image.resize(api_size(width, height), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None  # not an image Pillow reads: passed on as sent, for the API to judge
    if media_type == "image/jpeg" and scaled.mode not in ("RGB", "L"):
        scaled = scaled.convert("RGB")
    out = io.BytesIO()
    scaled.save(out, format=FORMATS[media_type], **({"quality": 90} if media_type == "image/jpeg" else {}))
    return out.getvalue()


def fit_turns(turns: Iterable[dict[str, Any]]) -> None:
    """Scale, in place, every base64 image of Anthropic turns that Claude Code would resize."""
    for turn in turns:
        content = turn.get("content")
        for block in content if isinstance(content, list) else []:
            for image in _images_in(block):
                source = image["source"]
                scaled = fit(base64.b64decode(source["data"]), source["media_type"])
                if scaled is not None:
                    image["source"] = {**source, "data": base64.b64encode(scaled).decode()}


def _images_in(block: Any) -> list[dict[str, Any]]:
    """Base64 image blocks in a content block, tool results' content included."""
    if not isinstance(block, dict):
        return []
    if block.get("type") == "image" and (block.get("source") or {}).get("type") == "base64":
        return [block] if block["source"].get("media_type") in FORMATS else []
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        return [image for inner in block["content"] for image in _images_in(inner)]
    return []
