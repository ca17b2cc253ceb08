"""State machines of the four records, with every allowed transition kept as data.

``TRANSITIONS[kind]`` maps ``(from, to)`` to a sentence saying when that edge is taken; an edge
missing from the table is forbidden.  :func:`transition` is the only gate (the store calls it on
every state-changing write), and :func:`is_terminal` is derived from the same table, so the two can
never disagree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from scheduler.errors import InvalidTransition

Kind = Literal["request", "round", "allocation", "cluster"]


class RequestState(StrEnum):
    SUBMITTED = "submitted"
    IN_ROUND = "in_round"
    ALLOCATED = "allocated"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class RoundState(StrEnum):
    OPEN = "open"
    SOLVING = "solving"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    FAILED = "failed"


class AllocationState(StrEnum):
    PROPOSED = "proposed"
    PINNED = "pinned"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STALE = "stale"


class ClusterState(StrEnum):
    ACTIVE = "active"
    STALE = "stale"
    RETIRED = "retired"


R, RO, A, C = RequestState, RoundState, AllocationState, ClusterState

TRANSITIONS: dict[Kind, dict[tuple[StrEnum, StrEnum], str]] = {
    "request": {
        (R.SUBMITTED, R.IN_ROUND): "a round snapshots the open request into its problem",
        (R.SUBMITTED, R.WITHDRAWN): "the applicant withdraws before any round has taken it",
        (R.IN_ROUND, R.SUBMITTED): "the round failed or was rejected, so the request returns to the pool",
        (R.IN_ROUND, R.ALLOCATED): "the round is published with an assignment for the request",
        (R.IN_ROUND, R.REJECTED): "the round is published and its plan rejects the request, with a reason",
    },
    "round": {
        (RO.OPEN, RO.SOLVING): "RunRound starts the solver on a snapshot of open requests and active clusters",
        (RO.OPEN, RO.REJECTED): "an operator discards a round before it runs",
        (RO.SOLVING, RO.PROPOSED): "the solver returned a plan; its allocations await review",
        (RO.SOLVING, RO.FAILED): "the solver raised or the service died mid-solve (found on restart)",
        (RO.FAILED, RO.SOLVING): "an operator retries the solve",
        (RO.PROPOSED, RO.SOLVING): "a pin forces an assignment, so the rest is solved again",
        (RO.PROPOSED, RO.APPROVED): "an operator approves the plan as a whole",
        (RO.PROPOSED, RO.REJECTED): "an operator rejects the plan as a whole; its requests return to the pool",
        (RO.APPROVED, RO.PUBLISHED): "Publish makes the round and its allocations public in the ledger",
    },
    "allocation": {
        (A.PROPOSED, A.APPROVED): "an operator approves the single allocation, or the whole round",
        (A.PROPOSED, A.REJECTED): "an operator rejects the single allocation",
        (A.PROPOSED, A.PINNED): "an operator pins it, so the re-solve must keep it as it is",
        (A.PROPOSED, A.SUPERSEDED): "a re-solve after a pin replaced this unpinned proposal",
        (A.PINNED, A.APPROVED): "a pinned allocation is approved like any other",
        (A.PINNED, A.REJECTED): "an operator drops a pin they set",
        (A.APPROVED, A.SUBMITTED): "the executor recorded the submission, then calls the backend (persist, then act)",
        (A.APPROVED, A.STALE): "its cluster was retired or stayed stale before the job could start",
        (A.APPROVED, A.SUPERSEDED): "another approved allocation of the same request executes instead",
        (A.APPROVED, A.FAILED): "its window ended before the executor could submit the job (execution was off)",
        (A.SUBMITTED, A.RUNNING): "the backend reports the job running",
        (A.SUBMITTED, A.SUCCEEDED): "the job started and finished between two observations of the executor",
        (A.SUBMITTED, A.FAILED): "the backend refused or lost the job, or it waited past its window or pending timeout",
        (A.SUBMITTED, A.STALE): "the cluster stopped reporting while the job was queued",
        (A.RUNNING, A.SUCCEEDED): "the job exited successfully",
        (A.RUNNING, A.FAILED): "the job exited with an error, was stopped, outlived its window or was lost",
        (A.RUNNING, A.STALE): "the cluster stopped reporting while the job ran; its outcome is unknown",
        (A.STALE, A.SUBMITTED): "the cluster came back and its backend still holds the job, queued",
        (A.STALE, A.RUNNING): "the cluster came back and its backend reports the job still running",
        (A.STALE, A.SUCCEEDED): "the cluster came back and its backend reports that the job succeeded meanwhile",
        (A.STALE, A.FAILED): "the cluster came back and its backend reports that the job failed or was stopped",
    },
    "cluster": {
        (C.ACTIVE, C.STALE): "the cluster missed N heartbeats; new rounds leave it out",
        (C.STALE, C.ACTIVE): "a heartbeat arrived again",
        (C.ACTIVE, C.RETIRED): "an operator retires the cluster",
        (C.STALE, C.RETIRED): "an operator retires a cluster that never came back",
    },
}

INITIAL: dict[Kind, StrEnum] = {
    "request": R.SUBMITTED,
    "round": RO.OPEN,
    "allocation": A.PROPOSED,
    "cluster": C.ACTIVE,
}


def transition(kind: Kind, from_state: str, to_state: str) -> str:
    """Return ``to_state`` if the table allows the edge; raise :class:`InvalidTransition` otherwise."""
    if (from_state, to_state) not in TRANSITIONS[kind]:
        raise InvalidTransition(kind, str(from_state), str(to_state))
    return to_state


def why(kind: Kind, from_state: str, to_state: str) -> str:
    """The table's sentence for an edge, for audit entries and error messages."""
    for (a, b), text in TRANSITIONS[kind].items():
        if a == from_state and b == to_state:
            return text
    raise InvalidTransition(kind, str(from_state), str(to_state))


def is_terminal(kind: Kind, state: str) -> bool:
    """A state with no outgoing edge: nothing will ever change it again."""
    return not any(a == state for a, _ in TRANSITIONS[kind])
