"""Free text printed to a terminal: control characters shown as escapes, all else as is."""

from __future__ import annotations

import pytest

from tracker.cli.terminal import escape_controls


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("Ring efter kl. 14 – æøå 😀", "Ring efter kl. 14 – æøå 😀", id="plain"),
        pytest.param("\x1b]0;pwned\x07", r"\x1b]0;pwned\x07", id="retitle-the-terminal"),
        pytest.param("\x1b[2J\x1b[H", r"\x1b[2J\x1b[H", id="clear-the-screen"),
        pytest.param("a\nstatus: closed", r"a\nstatus: closed", id="a-faked-line"),
        pytest.param("a\rb\tc", r"a\rb\tc", id="carriage-return-and-tab"),
        pytest.param("\x9b31m", r"\x9b31m", id="c1-control-sequence-introducer"),
        pytest.param("abc\u202efed", r"abc\u202efed", id="bidi-override"),
        pytest.param("x\u2028y", r"x\u2028y", id="line-separator"),
        pytest.param("\x7f", r"\x7f", id="delete"),
    ],
)
def test_control_characters_are_shown_escaped(text: str, shown: str) -> None:
    assert escape_controls(text) == shown
