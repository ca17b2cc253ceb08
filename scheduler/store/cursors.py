"""Page cursors: opaque to callers, the last ``seq`` returned inside (every store lists in insertion order)."""

from __future__ import annotations

import base64

from scheduler.errors import InvalidInput


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The last ``seq`` already returned (0 for the first page); a forged cursor is bad input."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("page.cursor", "not a cursor this service returned") from e


def is_cursor(text: str) -> bool:
    """Whether a store could have returned ``text`` as a cursor: lets the edge refuse a forged one early."""
    try:
        decode_cursor(text)
    except InvalidInput:
        return False
    return True
