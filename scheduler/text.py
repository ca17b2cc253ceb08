"""Text that people read (titles, reasons): one rule for the gRPC API, the web console and the terminal.

Every review action says why, and no escape sequence, line break or direction override may reach an
operator's terminal, a page or the public ledger through what someone typed.
"""

from __future__ import annotations

import unicodedata

from scheduler.errors import InvalidInput

MAX_REASON = 2000  # characters
# Unicode's bidirectional controls: they reorder what a reader sees ("approve" shown where "evorppa" was sent).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_control(ch: str) -> bool:
    """A character that steers a terminal or a reader instead of showing: C0/C1 controls and direction overrides."""
    return unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS


def plain_text(value: str, field: str) -> str:
    """``value`` unchanged, or ``InvalidInput`` naming the field and the first control character in it."""
    for i, ch in enumerate(value):
        if is_control(ch):
            kind = "direction override" if ch in BIDI_CONTROLS else "control character"
            raise InvalidInput(field, f"contains the {kind} U+{ord(ch):04X} at position {i}; write it as plain text")
    return value


def reason(value: str, field: str = "reason", required: bool = True) -> str:
    """A review or withdrawal reason, stripped: required unless said otherwise, at most ``MAX_REASON``, plain."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(field, "is required: every review action says why")
    if len(value) > MAX_REASON:
        raise InvalidInput(field, f"is longer than {MAX_REASON} characters")
    plain_text(value, field)
    return text
