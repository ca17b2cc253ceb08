"""Records: the conversions to the solver's models, and the validation they inherit from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler.domain import CarbonForecast, RequestRecord, Withdrawal, new_id
from solver.problem import Horizon, Unavailability
from tests.scheduler.store.builders import T0, at, cluster, spec


def test_a_cluster_becomes_the_solvers_cluster_over_one_horizon() -> None:
    record = cluster(
        unavailable=[
            Withdrawal(gpu_type="H100", gpus=4, start=at(90), end=at(180)),  # slots 1..2 (rounded outwards)
            Withdrawal(gpu_type="A100", gpus=99, start=at(-60), end=at(60)),  # clipped to slot 0 and to 8 GPUs
            Withdrawal(gpu_type="H100", gpus=1, start=at(600), end=at(700)),  # after the horizon: dropped
        ],
        carbon=CarbonForecast(start=T0, step_minutes=30, values=[100, 200, 300]),
    )
    solver_cluster = record.to_cluster(Horizon(start=T0, slot_minutes=60, slots=4))
    assert solver_cluster.unavailable == [
        Unavailability(gpu_type="H100", gpus=4, from_slot=1, to_slot=3),
        Unavailability(gpu_type="A100", gpus=8, from_slot=0, to_slot=1),
    ]
    assert solver_cluster.carbon_intensity == [150.0, 300.0, 300.0, 300.0]
    assert (solver_cluster.gpus, solver_cluster.power_cap_kw, solver_cluster.country) == (record.gpus, 20.0, "DE")


def test_a_request_remembers_its_spec() -> None:
    sent = spec(countries=["DE"], deadline_slot=10)
    record = RequestRecord(**sent.model_dump(), id="req-1", submitted_at=T0, updated_at=T0)
    assert record.spec() == sent
    assert record.in_slots and record.slot_request("req-1").deadline_slot == 10


def hours(**fields: Any) -> dict[str, Any]:
    return {"runtime_slots": {}, "runtime_hours": {"H100": 2.5}} | fields


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        pytest.param(hours(earliest=datetime(2026, 12, 7, 9)), "earliest", "timezone", id="earliest without a zone"),
        pytest.param(hours(deadline=at(60), earliest=at(60)), "deadline", "must be after earliest",
                     id="deadline not after earliest"),
        pytest.param(hours(runtime_hours={"H100": 0.0}), "runtime_hours", "greater than 0", id="no runtime"),
        pytest.param(hours(runtime_hours={"H100": float("inf")}), "runtime_hours", "finite", id="endless runtime"),
        pytest.param(hours(runtime_hours={}), "runtime_hours", "at least one", id="no GPU type at all"),
        pytest.param(hours(runtime_slots={"H100": 3}), "runtime_hours", "cannot both", id="hours and slots at once"),
        pytest.param(hours(deadline_slot=9), "deadline_slot", "give deadline as a date",
                     id="hours with a deprecated deadline slot"),
        pytest.param({"earliest": at(60)}, "earliest", "give runtime_hours", id="slots with a date"),
    ],
)
def test_a_spec_in_hours_and_dates_refuses_what_makes_no_window(fields: dict[str, Any], field: str,
                                                                message: str) -> None:
    with pytest.raises(ValidationError) as e:
        spec(**fields)
    err = e.value.errors()[0]
    named = str(err["loc"][0]) if err["loc"] else str(err["msg"]).removeprefix("Value error, ").split()[0]
    assert named == field and message in str(e.value)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"deadline_slot": 0, "earliest_slot": 2}, id="deadline before earliest start"),
        pytest.param({"countries": ["Germany"]}, id="country not an ISO code"),
        pytest.param({"entrypoint": ""}, id="nothing to run"),
        pytest.param({"gpus": 0}, id="zero GPUs"),
        pytest.param({"merit": float("nan")}, id="merit not a number"),
    ],
)
def test_a_bad_spec_fails_validation_with_the_field_named(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as e:
        spec(**fields)
    names = {str(part) for err in e.value.errors() for part in err["loc"]}
    assert names & (set(fields) | {""}) or any(f in str(e.value) for f in fields)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: cluster(pue=float("nan")), "pue", id="PUE not a number"),
        pytest.param(lambda: cluster(gpu_power_w={"H100": float("inf")}), "gpu_power_w", id="infinite measured power"),
        pytest.param(lambda: CarbonForecast(start=T0, values=[100.0, float("inf")]), "values",
                     id="infinite carbon intensity"),
    ],
)
def test_a_record_refuses_non_finite_numbers(build: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as e:
        build()
    assert [(err["type"], err["loc"][0]) for err in e.value.errors()] == [("finite_number", field)]


def test_a_cluster_must_give_board_power_for_every_gpu_type() -> None:
    with pytest.raises(ValidationError, match="board power"):
        cluster(gpus={"H100": 8, "MI300X": 4})


def test_new_ids_sort_by_creation_time() -> None:
    ids = [new_id("req") for _ in range(50)]
    assert len(set(ids)) == 50
    assert [i.split("-")[1] for i in ids] == sorted(i.split("-")[1] for i in ids)
