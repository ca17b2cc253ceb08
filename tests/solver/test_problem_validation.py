"""A bad problem file is refused with a message that names the field, the offending id and the value."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from solver.files import InputError, load_problem, validate
from solver.problem import Problem
from tests.strategies import as_data, problems

Data = dict[str, Any]

BASE: Data = {
    "version": 1,
    "horizon": {"start": "2025-01-06T00:00:00Z", "slot_minutes": 60, "slots": 24},
    "gpu_types": {"H100": {"tdp_watts": 700}, "A100": {"tdp_watts": 400}},
    "clusters": [
        {"id": "jsc-booster", "country": "DE", "gpus": {"H100": 16}},
        {"id": "cineca-leo", "country": "IT", "gpus": {"A100": 8}, "carbon_intensity": 350},
    ],
    "requests": [
        {"id": "req-1", "org": "embl", "category": "research", "gpus": 8, "runtime_slots": {"H100": 3}},
        {"id": "req-7", "org": "startup-x", "category": "industry", "gpus": 4, "runtime_slots": {"A100": 5}},
    ],
    "policy": {"category_shares": {"research": 0.6, "industry": 0.4}},
}


def cluster(data: Data) -> Data:
    first: Data = data["clusters"][0]
    return first


def request(data: Data) -> Data:
    second: Data = data["requests"][1]
    return second


def window(gpus: int, lo: int, hi: int, gpu_type: str = "H100") -> Data:
    return {"gpu_type": gpu_type, "gpus": gpus, "from_slot": lo, "to_slot": hi}


Edit = Callable[[Data], None]

BAD: list[Any] = [
    pytest.param(
        lambda d: cluster(d)["gpus"].update(V100=4),
        ["clusters[id=jsc-booster].gpus", "unknown GPU type 'V100'"],
        id="unknown GPU type in a cluster",
    ),
    pytest.param(
        lambda d: request(d)["runtime_slots"].update(V100=2),
        ["requests[id=req-7].runtime_slots", "unknown GPU type 'V100'"],
        id="unknown GPU type in a request",
    ),
    pytest.param(
        lambda d: request(d).update(runtime_slots={}),
        ["requests[id=req-7].runtime_slots", "at least one acceptable GPU type"],
        id="request that accepts no GPU type",
    ),
    pytest.param(
        lambda d: cluster(d)["gpus"].update(H100=-1),
        ["clusters[id=jsc-booster].gpus.H100", "greater than or equal to 0"],
        id="negative GPU count in a cluster",
    ),
    pytest.param(
        lambda d: request(d).update(gpus=-4), ["requests[id=req-7].gpus", "greater than 0"], id="negative gang size"
    ),
    pytest.param(
        lambda d: request(d).update(gpus=0), ["requests[id=req-7].gpus", "greater than 0"], id="zero gang size"
    ),
    pytest.param(
        lambda d: request(d)["runtime_slots"].update(A100=0),
        ["requests[id=req-7].runtime_slots.A100", "greater than 0"],
        id="zero runtime",
    ),
    pytest.param(
        lambda d: cluster(d).update(unavailable=[window(-2, 0, 4)]),
        ["clusters[id=jsc-booster].unavailable[0].gpus", "greater than 0"],
        id="negative withdrawal",
    ),
    pytest.param(
        lambda d: request(d).update(earliest_slot=6, deadline_slot=4),
        ["requests[id=req-7]", "deadline_slot (4) must be after earliest_slot (6)"],
        id="deadline before earliest slot",
    ),
    pytest.param(
        lambda d: request(d).update(earliest_slot=6, deadline_slot=6),
        ["requests[id=req-7]", "deadline_slot (6) must be after earliest_slot (6)"],
        id="deadline equal to earliest slot",
    ),
    pytest.param(
        lambda d: request(d).update(deadline_slot=25),
        ["requests[id=req-7].deadline_slot", "25 is beyond the horizon (24)"],
        id="deadline beyond the horizon",
    ),
    pytest.param(
        lambda d: request(d).update(earliest_slot=24),
        ["requests[id=req-7].earliest_slot", "24 is not inside the horizon (24)"],
        id="earliest slot at the horizon's end",
    ),
    pytest.param(
        lambda d: d["requests"].append(copy.deepcopy(request(d))),
        ["requests[id=req-7]", "duplicate id"],
        id="duplicate request ids",
    ),
    pytest.param(
        lambda d: d["clusters"].append(copy.deepcopy(cluster(d))),
        ["clusters[id=jsc-booster]", "duplicate id"],
        id="duplicate cluster ids",
    ),
    pytest.param(
        lambda d: d["policy"].update(category_shares={"research": 0.6, "industry": 0.3}),
        ["policy.category_shares", "shares must sum to 1, got 0.9"],
        id="shares that sum to 0.9",
    ),
    pytest.param(
        lambda d: d["policy"].update(category_shares={"research": 0.7, "industry": 0.4}),
        ["policy.category_shares", "shares must sum to 1, got 1.1"],
        id="shares that sum to 1.1",
    ),
    pytest.param(
        lambda d: d["policy"].update(category_shares={"research": 1.5, "industry": -0.5}),
        ["policy.category_shares.research", "less than or equal to 1", "policy.category_shares.industry"],
        id="shares outside 0 to 1 that happen to sum to 1",
    ),
    pytest.param(
        lambda d: cluster(d).update(carbon_intensity=[100.0] * 23),
        ["clusters[id=jsc-booster].carbon_intensity", "one value per slot (24), got 23"],
        id="carbon list one slot short",
    ),
    pytest.param(
        lambda d: cluster(d).update(carbon_intensity=[100.0] * 25),
        ["clusters[id=jsc-booster].carbon_intensity", "one value per slot (24), got 25"],
        id="carbon list one slot long",
    ),
    pytest.param(
        lambda d: cluster(d).update(unavailable=[window(4, 20, 30)]),
        ["clusters[id=jsc-booster].unavailable[0].to_slot", "30 is beyond the horizon (24)"],
        id="unavailable beyond the horizon",
    ),
    pytest.param(
        lambda d: cluster(d).update(unavailable=[window(4, 6, 6)]),
        ["clusters[id=jsc-booster].unavailable[0]", "to_slot (6) must be greater than from_slot (6)"],
        id="unavailable window of no slots",
    ),
    pytest.param(
        lambda d: cluster(d).update(unavailable=[window(20, 0, 4)]),
        ["clusters[id=jsc-booster].unavailable[0].gpus", "withdraws 20 but the cluster has 16 H100"],
        id="unavailable withdraws more GPUs than the cluster has",
    ),
    pytest.param(
        lambda d: cluster(d).update(unavailable=[window(2, 0, 4, "A100")]),
        ["clusters[id=jsc-booster].unavailable[0].gpu_type", "cluster has no 'A100' GPUs"],
        id="unavailable names a type the cluster lacks",
    ),
    pytest.param(
        lambda d: request(d).update(countries=[]),
        ["requests[id=req-7].countries", "must name at least one country"],
        id="countries empty list",
    ),
    pytest.param(
        lambda d: request(d).update(countries=["Germany"]),
        ["requests[id=req-7].countries[0]", "pattern"],
        id="country that is not an ISO code",
    ),
    pytest.param(
        lambda d: request(d).update(merit=1.2), ["requests[id=req-7].merit", "less than or equal to 1"], id="merit > 1"
    ),
    pytest.param(
        lambda d: request(d).update(merit=-0.1),
        ["requests[id=req-7].merit", "greater than or equal to 0"],
        id="merit < 0",
    ),
    pytest.param(
        lambda d: request(d).update(priority=3),
        ["requests[id=req-7].priority", "Extra inputs are not permitted"],
        id="unknown extra field on a request",
    ),
    pytest.param(
        lambda d: cluster(d).update(owner="JSC"),
        ["clusters[id=jsc-booster].owner", "Extra inputs are not permitted"],
        id="unknown extra field on a cluster",
    ),
    pytest.param(
        lambda d: d["policy"].update(energy_cap_mwh=5),
        ["policy.energy_cap_mwh", "Extra inputs are not permitted"],
        id="misspelt policy field",
    ),
    pytest.param(
        lambda d: cluster(d).update(pue=0.9),
        ["clusters[id=jsc-booster].pue", "greater than or equal to 1"],
        id="PUE < 1",
    ),
    pytest.param(
        lambda d: d["policy"].update(org_cap_share=0),
        ["policy.org_cap_share", "greater than 0"],
        id="org cap of zero",
    ),
    pytest.param(
        lambda d: d["horizon"].update(slots=0), ["horizon.slots", "greater than 0"], id="horizon without slots"
    ),
    pytest.param(lambda d: d.update(version=2), ["version", "Input should be 1"], id="future file version"),
]


@pytest.mark.parametrize(("edit", "want"), BAD)
def test_bad_problem_is_refused_with_a_precise_message(edit: Edit, want: list[str]) -> None:
    data = copy.deepcopy(BASE)
    edit(data)
    with pytest.raises(InputError) as refused:
        validate(Problem, data)
    for fragment in want:
        assert fragment in str(refused.value)


GOOD: list[Any] = [
    pytest.param(lambda d: None, id="the base problem"),
    pytest.param(
        lambda d: d["policy"].update(category_shares={"research": 0.6, "industry": 0.4 - 5e-7}),
        id="shares within 1e-6 of 1",
    ),
    pytest.param(lambda d: request(d).update(earliest_slot=6, deadline_slot=7), id="deadline one slot after earliest"),
    pytest.param(lambda d: request(d).update(deadline_slot=24), id="deadline at the horizon's end"),
    pytest.param(lambda d: cluster(d).update(unavailable=[window(16, 20, 24)]), id="unavailable up to the horizon"),
    pytest.param(
        lambda d: cluster(d).update(unavailable=[window(16, 0, 4), window(16, 2, 6)]),
        id="overlapping withdrawals of the whole cluster",
    ),
    pytest.param(lambda d: cluster(d).update(carbon_intensity=[0.0] * 24), id="carbon list of exactly 24"),
    pytest.param(lambda d: request(d).update(merit=1.0), id="merit of exactly 1"),
    pytest.param(lambda d: cluster(d)["gpus"].update(A100=0), id="a type listed with zero GPUs"),
    pytest.param(lambda d: d["policy"].update(category_shares={}), id="no category shares"),
]


@pytest.mark.parametrize("edit", GOOD)
def test_boundary_problem_is_accepted(edit: Edit) -> None:
    data = copy.deepcopy(BASE)
    edit(data)
    validate(Problem, data)


def test_every_error_is_reported_at_once() -> None:
    """One pass over a file lists all its cross-reference mistakes, not just the first."""
    data = copy.deepcopy(BASE)
    cluster(data)["gpus"].update(V100=4)
    request(data).update(deadline_slot=30)
    d = copy.deepcopy(request(data))
    data["requests"].append(d)
    with pytest.raises(InputError) as refused:
        validate(Problem, data)
    message = str(refused.value)
    for fragment in ["clusters[id=jsc-booster].gpus", "requests[id=req-7].deadline_slot", "requests[id=req-7]: dup"]:
        assert fragment in message


def test_file_errors_start_with_the_path(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    request(data).update(gpus=-4)
    path = tmp_path / "round-12.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"round-12\.json: requests\[id=req-7\]\.gpus"):
        load_problem(path)


@settings(max_examples=50, deadline=None)
@given(problems())
def test_drawn_problems_survive_a_file_round_trip(problem: Problem) -> None:
    """The strategies only draw valid files, so solver properties never test the validator by accident."""
    assert validate(Problem, json.loads(json.dumps(as_data(problem)))) == problem
