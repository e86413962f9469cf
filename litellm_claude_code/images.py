"""Image blocks checked before they reach Claude: a clear 400 instead of an
upstream failure (or a silent drop) for data Claude cannot take.

Limits follow the Anthropic Messages API: PNG, JPEG, GIF or WebP, at most
5 MB per image; URL images are passed as URL sources (Anthropic fetches them,
this server does not).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

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
