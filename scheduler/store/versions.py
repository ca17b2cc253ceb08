"""Compare-and-set: the check every store makes before an ``update_*`` writes anything."""

from __future__ import annotations

from scheduler.errors import Conflict
from scheduler.states import Kind, transition


def check_update(kind: Kind, id: str, stored_state: str, stored_version: int, new_state: str, version: int) -> None:
    """Raise before writing anything: ``Conflict`` if the caller read another version, or ``InvalidTransition``."""
    if stored_version != version:
        raise Conflict(f"{kind} {id!r} is at version {stored_version}, not {version}: re-read and retry")
    if new_state != stored_state:
        transition(kind, stored_state, new_state)
