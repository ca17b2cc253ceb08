"""Accounting: the actual figures of a run beside the plan's, and the ledger's planned-against-actual totals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler import ledger
from scheduler.accounting import emissions_kg, total, usage
from scheduler.domain import CarbonForecast, RequestRecord
from scheduler.states import AllocationState
from solver.sci import SciSpec
from tests.scheduler.store.builders import T0, allocation, at, cluster, round_, spec

HOURLY = CarbonForecast(start=T0, step_minutes=60, values=[100.0, 200.0, 300.0])


@pytest.mark.parametrize(("fields", "gpus", "hours", "want_kwh", "want_source"), [
    pytest.param({"pue": 1.2, "gpu_power_w": {"H100": 500.0}}, 2, 1.0, 2 * 0.5 * 1.2, "measured",
                 id="measured power wins over board power"),
    pytest.param({"pue": 1.5}, 2, 2.0, 2 * 0.7 * 0.6 * 1.5 * 2, "estimated",
                 id="without measurements: board power x utilisation x PUE"),
    pytest.param({"pue": 1.5, "gpu_power_w": {"A100": 300.0}}, 1, 1.0, 0.7 * 0.6 * 1.5, "estimated",
                 id="a measurement of another type does not count"),
])
def test_energy(fields: dict[str, object], gpus: int, hours: float, want_kwh: float, want_source: str) -> None:
    u = usage(cluster(**fields), "H100", gpus, T0, T0 + timedelta(hours=hours), utilisation=0.6)
    assert u.energy_kwh == pytest.approx(want_kwh)
    assert u.energy_source == want_source
    assert u.gpu_hours == pytest.approx(gpus * hours)


@pytest.mark.parametrize(("start", "end", "want_g_per_kw"), [
    pytest.param(at(30), at(150), 0.5 * 100 + 1 * 200 + 0.5 * 300, id="pieces of three forecast steps"),
    pytest.param(at(-120), at(-60), 100.0, id="before the forecast the first value holds"),
    pytest.param(at(600), at(660), 300.0, id="after the forecast the last value holds"),
    pytest.param(at(60), at(60), 0.0, id="a run of no time emits nothing"),
])
def test_emissions_step_by_step(start: object, end: object, want_g_per_kw: float) -> None:
    assert emissions_kg(2.0, HOURLY, start, end) == pytest.approx(2.0 * want_g_per_kw / 1000)  # type: ignore[arg-type]


def test_co2_and_sci_are_unknown_without_carbon_data_not_zero() -> None:
    u = usage(cluster(carbon=None), "H100", 4, T0, at(60), utilisation=0.6)
    assert u.co2_kg is None and u.sci_g_per_gpu_hour is None
    assert u.energy_kwh > 0


def test_sci_adds_embodied_carbon_per_gpu_hour() -> None:
    spec_ = SciSpec(embodied_kg_per_gpu=876.6, lifetime_years=10.0)  # 10 g per GPU-hour
    u = usage(cluster(carbon=HOURLY, pue=1.0), "H100", 1, T0, at(60), utilisation=1.0, embodied=spec_)
    assert u.co2_kg == pytest.approx(0.7 * 100 / 1000)
    assert u.sci_g_per_gpu_hour == pytest.approx(70.0 + 10.0)


def test_an_end_before_the_start_counts_as_no_time() -> None:
    u = usage(cluster(carbon=HOURLY), "H100", 2, at(60), at(30), utilisation=0.6)
    assert u.gpu_hours == 0 and u.energy_kwh == 0 and u.sci_g_per_gpu_hour is None


def test_totals_count_unknown_co2_apart() -> None:
    f = total([(1.0, 2.0, 0.5), (3.0, 4.0, None)])
    assert (f.items, f.gpu_hours, f.energy_kwh, f.co2_kg, f.co2_unknown) == (2, 4.0, 6.0, 0.5, 1)
    assert f.co2_known == 0.5
    assert total([(1.0, 1.0, None)]).co2_known is None


def _request(id: str, org: str, category: str) -> RequestRecord:
    return RequestRecord.model_validate(
        spec(org=org, category=category).model_dump() | {"id": id, "submitted_at": T0, "updated_at": T0}
    )


def test_ledger_sets_planned_beside_actual_per_category_and_org() -> None:
    reqs = {"r1": _request("r1", "org-a", "research"), "r2": _request("r2", "org-b", "sme"),
            "r3": _request("r3", "org-b", "sme")}
    green, grey = cluster("c-green", carbon=HOURLY), cluster("c-grey", carbon=None)
    ran = usage(green, "H100", 4, T0, at(90), utilisation=0.6)
    allocs = [
        allocation("a1", "round-1", "r1", cluster="c-green", energy_kwh=10.0, co2_kg=2.0,
                   state=AllocationState.SUCCEEDED, usage=ran),
        allocation("a2", "round-1", "r2", cluster="c-grey", energy_kwh=5.0, co2_kg=0.0, state=AllocationState.APPROVED),
        allocation("a3", "round-1", "r3", cluster="c-grey", state=AllocationState.REJECTED),
    ]
    e = ledger.entry(round_(), allocs, reqs, {"c-green": green, "c-grey": grey})
    assert [a.request_id for a in e.allocations] == ["r1", "r2"]
    assert e.allocations[1].co2_kg is None, "a cluster without carbon data has unknown CO2, not 0"
    assert e.accounts.planned.items == 2 and e.accounts.planned.energy_kwh == pytest.approx(15.0)
    assert e.accounts.planned.co2_unknown == 1 and e.accounts.sci_planned is None
    assert e.accounts.actual.items == 1 and e.accounts.actual.energy_kwh == pytest.approx(ran.energy_kwh)
    assert e.accounts_by_category["research"].actual.co2_kg == pytest.approx(ran.co2_kg)
    assert e.accounts_by_category["research"].sci_actual == pytest.approx(ran.sci_g_per_gpu_hour)
    assert e.accounts_by_org["org-b"].actual.items == 0 and e.accounts_by_org["org-b"].planned.co2_known is None
    assert e.co2_t == pytest.approx(0.002)
