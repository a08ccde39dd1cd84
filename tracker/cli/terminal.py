"""Free text made safe for a terminal: control characters shown, not obeyed."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates reorder what follows them on screen, so a note could
# make text read differently from what is stored (the "Trojan Source" trick).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F))) + "\u2066\u2067\u2068\u2069"
)
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``,
    ``\\u202e``): an ESC sequence in a note could retitle or clear the terminal, move the
    cursor and overwrite what was printed, and a newline could fake another field's line."""
    return "".join(_escaped(c) if _is_control(c) else c for c in text)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Zl", "Zp"} or char in BIDI_CONTROLS


def _escaped(char: str) -> str:
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
