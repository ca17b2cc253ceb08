"""The state machines as data: every state reachable, terminal states derived from the table, one gate."""

from __future__ import annotations

from enum import StrEnum

import pytest

from scheduler.errors import InvalidTransition
from scheduler.states import (
    INITIAL,
    TRANSITIONS,
    AllocationState,
    ClusterState,
    Kind,
    RequestState,
    RoundState,
    is_terminal,
    transition,
    why,
)

ENUMS: dict[Kind, type[StrEnum]] = {
    "request": RequestState,
    "round": RoundState,
    "allocation": AllocationState,
    "cluster": ClusterState,
}


@pytest.mark.parametrize("kind", list(TRANSITIONS))
def test_every_state_is_reachable_from_the_initial_one(kind: Kind) -> None:
    reached, frontier = {INITIAL[kind]}, [INITIAL[kind]]
    while frontier:
        a = frontier.pop()
        for x, y in TRANSITIONS[kind]:
            if x == a and y not in reached:
                reached.add(y)
                frontier.append(y)
    assert reached == set(ENUMS[kind])


@pytest.mark.parametrize("kind", list(TRANSITIONS))
def test_every_edge_says_when_it_is_taken(kind: Kind) -> None:
    for (a, b), text in TRANSITIONS[kind].items():
        assert isinstance(a, ENUMS[kind]) and isinstance(b, ENUMS[kind])
        assert a != b, "a self-loop is an update, not a transition"
        assert len(text) > 20
        assert why(kind, a, b) == text
        assert transition(kind, a, b) == b


@pytest.mark.parametrize(
    ("kind", "state", "terminal"),
    [
        pytest.param("request", RequestState.SUBMITTED, False, id="a submitted request can still move"),
        pytest.param("request", RequestState.WITHDRAWN, True, id="a withdrawn request is final"),
        pytest.param("request", RequestState.ALLOCATED, True, id="an allocated request is final"),
        pytest.param("round", RoundState.FAILED, False, id="a failed round can be retried"),
        pytest.param("round", RoundState.PUBLISHED, True, id="a published round is final"),
        pytest.param("allocation", AllocationState.PINNED, False, id="a pin still awaits approval"),
        pytest.param("allocation", AllocationState.SUCCEEDED, True, id="a finished job is final"),
        pytest.param("allocation", AllocationState.STALE, False, id="a job lost with its cluster may be found again"),
        pytest.param("allocation", AllocationState.SUPERSEDED, True, id="a superseded allocation never runs"),
        pytest.param("cluster", ClusterState.STALE, False, id="a stale cluster may come back"),
        pytest.param("cluster", ClusterState.RETIRED, True, id="a retired cluster stays retired"),
    ],
)
def test_terminal_states_follow_from_the_table(kind: Kind, state: str, terminal: bool) -> None:
    assert is_terminal(kind, state) is terminal


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        pytest.param("request", "in_round", "withdrawn", id="no withdrawing once a round has the request"),
        pytest.param("round", "open", "published", id="no publishing an unsolved round"),
        pytest.param("allocation", "rejected", "approved", id="a rejection is final"),
        pytest.param("cluster", "retired", "active", id="no reviving a retired cluster"),
        pytest.param("request", "submitted", "nonsense", id="an unknown state"),
    ],
)
def test_edges_missing_from_the_table_are_refused(kind: Kind, a: str, b: str) -> None:
    with pytest.raises(InvalidTransition) as e:
        transition(kind, a, b)
    assert (e.value.kind, e.value.from_state, e.value.to_state) == (kind, a, b)
    assert kind in str(e.value) and a in str(e.value) and b in str(e.value)
