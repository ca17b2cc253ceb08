"""The audit log's rows, built once so that every store writes the same columns for a :class:`Change`."""

from __future__ import annotations

from typing import Any

from scheduler.domain import Change


def audit_row(subject: str, by: Change, before: str | None, after: str | None) -> dict[str, Any]:
    """The columns of one audit entry, without ``seq`` (the store assigns it)."""
    return {
        "at": by.at,
        "actor": by.actor,
        "role": by.role.value,
        "action": by.action,
        "subject": subject,
        "reason": by.reason,
        "before": before,
        "after": after,
    }
