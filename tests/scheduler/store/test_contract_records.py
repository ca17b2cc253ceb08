"""Contract: clusters, rounds and allocations, and every edge of every state machine, on every store."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from scheduler.domain import CarbonForecast, Inventory, Withdrawal
from scheduler.errors import Conflict, InvalidTransition, NotFound
from scheduler.states import INITIAL, TRANSITIONS, ClusterState, Kind, RoundState
from scheduler.store import AllocationQuery, AuditQuery, ClusterQuery, PageRequest, Repository, RoundQuery, Transaction
from solver.plan import Assignment, Plan, SolverInfo
from solver.problem import Cluster, GpuType, Horizon, Problem, Request
from tests.scheduler.store.builders import T0, allocation, at, change, cluster, round_, spec


def path_to(kind: Kind, target: str) -> list[str]:
    """The shortest walk of states from the initial one to ``target``."""
    start = str(INITIAL[kind])
    paths = {start: [start]}
    todo = deque([start])
    while todo:
        a = todo.popleft()
        for x, y in TRANSITIONS[kind]:
            if x == a and y not in paths:
                paths[str(y)] = [*paths[a], str(y)]
                todo.append(str(y))
    return paths[target]


def create(t: Transaction, kind: Kind, n: int) -> Any:
    """A fresh record of ``kind`` in its initial state (with the rows it depends on)."""
    if kind == "cluster":
        return t.add_cluster(cluster(f"c-{n}"), change())
    if kind == "round":
        return t.add_round(round_(f"round-{n}"), change())
    if kind == "request":
        return t.submit_request(spec(), id=f"req-{n}", by=change())
    t.add_round(round_(f"ar-{n}"), change())
    t.submit_request(spec(), id=f"areq-{n}", by=change())
    return t.add_allocations([allocation(f"alloc-{n}", f"ar-{n}", f"areq-{n}")], change())[0]


def move(t: Transaction, kind: Kind, record: Any, state: str) -> Any:
    update = getattr(t, f"update_{kind}")
    return update(record.model_copy(update={"state": type(record.state)(state)}), change(f"{kind}.{state}"))


@pytest.mark.parametrize("kind", list(TRANSITIONS))
def test_every_edge_of_the_table_is_a_valid_write(store: Repository, kind: Kind) -> None:
    for n, (a, b) in enumerate(TRANSITIONS[kind]):

        def walk(t: Transaction, n: int = n, a: str = a, b: str = b) -> Any:
            record = create(t, kind, n)
            for state in [*path_to(kind, a)[1:], b]:
                record = move(t, kind, record, state)
            return record

        record = store.write(walk)
        assert record.state == b
        assert record.version == len(path_to(kind, a))
        last = store.read(
            lambda r, id=record.id: r.list_audit(AuditQuery(subject=f"{kind}/{id}"), PageRequest(limit=1000))
        ).items[-1]
        assert (last.before, last.after, last.action) == (a, b, f"{kind}.{b}")


@pytest.mark.parametrize("kind", list(TRANSITIONS))
def test_every_missing_edge_is_refused_and_changes_nothing(store: Repository, kind: Kind) -> None:
    record = store.write(lambda t: create(t, kind, 0))
    states = {str(s) for edge in TRANSITIONS[kind] for s in edge}
    for target in sorted(states - {str(record.state)}):
        if (record.state, target) in TRANSITIONS[kind]:
            continue
        with pytest.raises(InvalidTransition):
            store.write(lambda t, target=target: move(t, kind, record, target))
    assert store.read(lambda r: getattr(r, f"get_{kind}")(record.id)) == record


def test_a_cluster_keeps_its_heartbeat_outside_compare_and_set(store: Repository) -> None:
    added = store.write(lambda t: t.add_cluster(cluster(version=7), change("cluster.register")))
    assert added.version == 0, "a new record always starts at version 0"
    beat = store.write(lambda t: t.record_heartbeat("c-de-1", at(1)))
    assert (beat.version, beat.last_heartbeat) == (0, at(1))
    inventory = Inventory(
        gpus={"H100": 12, "A100": 8},
        unavailable=[Withdrawal(gpu_type="H100", gpus=4, start=at(60), end=at(180))],
        carbon=CarbonForecast(start=T0, values=[120.0, 80.0]),
    )
    reported = store.write(lambda t: t.record_heartbeat("c-de-1", at(2), inventory))
    assert (reported.version, reported.gpus, reported.unavailable) == (1, inventory.gpus, inventory.unavailable)
    edited = store.write(
        lambda t: t.update_cluster(reported.model_copy(update={"pue": 1.3, "last_heartbeat": T0}), change())
    )
    assert (edited.pue, edited.last_heartbeat, edited.version) == (1.3, at(2), 2)
    assert store.read(lambda r: r.get_cluster("c-de-1")) == edited
    assert [e.subject for e in store.read(lambda r: r.list_audit()).items] == ["cluster/c-de-1"] * 2
    with pytest.raises(NotFound):
        store.write(lambda t: t.record_heartbeat("nope", at(3)))


def test_clusters_list_by_state_operator_and_silence(store: Repository) -> None:
    store.write(lambda t: [t.add_cluster(cluster(f"c-{i}", operator=f"op-{i % 2}"), change()) for i in range(4)])
    store.write(lambda t: [t.record_heartbeat(f"c-{i}", at(i)) for i in range(3)])
    stale = store.read(lambda r: r.get_cluster("c-0"))
    store.write(lambda t: t.update_cluster(stale.model_copy(update={"state": ClusterState.STALE}), change()))

    def ids(query: ClusterQuery) -> list[str]:
        return [c.id for c in store.read(lambda r: r.list_clusters(query)).items]

    assert ids(ClusterQuery(heartbeat_before=at(1.5))) == ["c-0", "c-1", "c-3"], "never heard from counts as silent"
    assert ids(ClusterQuery(operator="op-1")) == ["c-1", "c-3"]
    assert ids(ClusterQuery(states=frozenset({ClusterState.ACTIVE}), heartbeat_before=at(5))) == ["c-1", "c-2", "c-3"]
    with pytest.raises(Conflict):
        store.write(lambda t: t.add_cluster(cluster("c-0"), change()))


def small_problem() -> Problem:
    return Problem(
        horizon=Horizon(start=T0, slots=24),
        gpu_types={"H100": GpuType(tdp_watts=700)},
        clusters=[Cluster(id="c-de-1", country="DE", gpus={"H100": 8})],
        requests=[Request(id="req-1", org="org-a", category="research", gpus=4, runtime_slots={"H100": 3})],
    )


def test_a_round_keeps_problem_plan_and_progress(store: Repository) -> None:
    opened = store.write(lambda t: t.add_round(round_(objective="value"), change("round.open")))
    store.write(lambda t: t.set_round_progress("round-1", 0.5, "a report before the solve"))
    assert store.read(lambda r: r.get_round("round-1")) == opened, "progress is taken only while solving"
    with pytest.raises(NotFound):
        store.write(lambda t: t.set_round_progress("round-9", 0.1))
    plan = Plan(
        assignments=[Assignment(request="req-1", cluster="c-de-1", gpu_type="H100", start_slot=0, end_slot=3)],
        solver=SolverInfo(status="OPTIMAL", policy="value", objective=1.5),
    )
    solving = opened.model_copy(update={"state": RoundState.SOLVING, "problem": small_problem(),
                                        "ortools_version": "9.12"})
    store.write(lambda t: t.update_round(solving, change("round.run")))
    store.write(lambda t: t.set_round_progress("round-1", 0.5, "improve: 1 assigned"))
    record = store.read(lambda r: r.get_round("round-1"))
    assert (record.progress, record.progress_message, record.version) == (0.5, "improve: 1 assigned", 1)
    done = record.model_copy(update={"state": RoundState.PROPOSED, "plan": plan, "progress": 0})
    stored = store.write(lambda t: t.update_round(done, change("round.solved")))
    assert (stored.progress, stored.version, stored.plan, stored.problem) == (0.5, 2, plan, small_problem())
    assert store.read(lambda r: r.get_round("round-1")) == stored
    store.write(lambda t: t.set_round_progress("round-1", 0.7, "a late report"))
    assert store.read(lambda r: r.get_round("round-1")) == stored, "a late report changes nothing"
    assert [
        x.id for x in store.read(lambda r: r.list_rounds(RoundQuery(states=frozenset({RoundState.PROPOSED})))).items
    ] == ["round-1"]


def test_allocations_need_their_round_and_request(store: Repository) -> None:
    store.write(lambda t: (t.add_round(round_(), change()), t.submit_request(spec(), id="req-1", by=change())))
    with pytest.raises(NotFound, match="round-9"):
        store.write(lambda t: t.add_allocations([allocation("a-1", "round-9", "req-1")], change()))
    with pytest.raises(NotFound, match="req-9"):
        store.write(lambda t: t.add_allocations([allocation("a-1", "round-1", "req-9")], change()))
    made = store.write(
        lambda t: t.add_allocations(
            [allocation(f"a-{i}", "round-1", "req-1", cluster=f"c-{i % 2}") for i in range(3)], change()
        )
    )
    assert [a.version for a in made] == [0, 0, 0]
    page = store.read(lambda r: r.list_allocations(AllocationQuery(round_id="round-1", cluster="c-1")))
    assert [a.id for a in page.items] == ["a-1"]
    pinned = store.write(
        lambda t: t.update_allocation(made[0].model_copy(update={"pinned": True, "round_id": "x"}), change())
    )
    assert (pinned.pinned, pinned.round_id, pinned.version) == (True, "round-1", 1)
