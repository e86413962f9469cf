"""Stop sequences applied to streamed text."""

from __future__ import annotations

import pytest

from litellm_claude_code.translate.stops import StopCutter


@pytest.mark.parametrize(
    ("stops", "pieces", "sent", "hit"),
    [
        ((), ["a", "b"], ["a", "b"], False),
        (("X",), ["abc", "dXe", "f"], ["abc", "d", ""], True),
        (("STOP",), ["ab S", "TO", "P cd"], ["ab ", "", ""], True),
        (("STOP",), ["ab S", "TA", "RT"], ["ab ", "STA", "RT"], False),
        (("\n\n", "##"), ["line\n", "#x", "\n\nmore"], ["line", "\n#x", ""], True),
        (("ab",), ["xa", "a", "b"], ["x", "a", ""], True),
    ],
)
def test_cutter(stops: tuple[str, ...], pieces: list[str], sent: list[str], hit: bool) -> None:
    cutter = StopCutter(stops)
    assert [cutter.feed(piece) for piece in pieces] == sent
    assert cutter.hit is hit


def test_flush_releases_a_partial_match_only_without_a_hit() -> None:
    cutter = StopCutter(("STOP",))
    assert cutter.feed("end ST") == "end "
    assert cutter.flush() == "ST"
