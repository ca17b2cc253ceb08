"""Which allocations still stand, by state: what review acts on, what explanations and stale flags see."""

from __future__ import annotations

from scheduler import ledger
from scheduler.states import AllocationState

UNDER_REVIEW = frozenset({AllocationState.PROPOSED, AllocationState.PINNED})
STANDING = UNDER_REVIEW | ledger.STANDING
FLAGGABLE = STANDING - {AllocationState.STALE}
