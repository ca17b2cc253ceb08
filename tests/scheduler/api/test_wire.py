"""Conversions at the edge: hand-written ones agree with protobuf's own, and records cross the wire unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from scheduler.api import inbound, outbound
from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as requests
from scheduler.api.outbound import ts
from scheduler.domain import RequestRecord
from scheduler.errors import InvalidInput
from solver.plan import LevelSpread, Metrics
from solver.problem import PolicyConfig
from tests.scheduler.store.builders import T0, spec

instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30)),
                                                   timezone(timedelta(hours=14))]))


@given(instants)
def test_ts_matches_timestamp_from_datetime(when: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(when)
    assert ts(when) == expected


def test_ts_keeps_none() -> None:
    assert ts(None) is None


# -- a spec and a policy cross the wire and come back equal ------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="only what an applicant must say"),
        pytest.param({"deadline_slot": 12, "earliest_slot": 2, "countries": ["DE", "FR"], "merit": 0.9},
                     id="every optional solver field set"),
        pytest.param({"merit": 0.0, "runtime_env": {}}, id="zero merit is said, not left out"),
        pytest.param({"runtime_slots": {}, "runtime_hours": {"H100": 2.5, "A100": 0.25}}, id="hours, no window"),
        pytest.param({"runtime_slots": {}, "runtime_hours": {"H100": 7.5}, "earliest": T0 + timedelta(minutes=90),
                      "deadline": T0 + timedelta(days=3, microseconds=1)}, id="hours inside a window of instants"),
    ],
)
def test_a_request_spec_round_trips(fields: dict[str, Any]) -> None:
    sent = spec(key="k-1", **fields)
    record = RequestRecord(**sent.model_dump(), id="req-1", submitted_at=T0, updated_at=T0)
    shown = outbound.request(record)
    assert inbound.request_spec(shown.spec, "spec", "k-1") == sent
    assert bool(shown.notes) == sent.in_slots  # the deprecated form is answered with a note


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(PolicyConfig(), id="no rules"),
        pytest.param(PolicyConfig(category_shares={"research": 0.7, "industry": 0.3}, org_cap_share=0.25,
                            energy_budget_mwh=12.5, carbon_budget_t=0.0), id="shares, a cap and both budgets"),
        pytest.param(PolicyConfig(energy_budget_mwh=3.0), id="an energy budget alone"),
    ],
)
def test_a_policy_round_trips(policy: PolicyConfig) -> None:
    assert inbound.policy_config(outbound.policy_config(policy)) == policy


# -- a NaN or an infinity is refused by the model and named at the wire ------------------------------


def _spec_with(**fields: Any) -> requests.RequestSpec:
    record = RequestRecord(**spec().model_dump(), id="req-1", submitted_at=T0, updated_at=T0)
    msg = outbound.request(record).spec
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def _cluster_with(**fields: Any) -> inv.RegisterClusterRequest:
    msg = inv.RegisterClusterRequest(cluster_id="c-1", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=8,
                                                                                      tdp_watts=700)])
    for name, value in fields.items():
        target = msg.gpus[0] if name in ("tdp_watts", "memory_gb") else msg
        setattr(target, name, value)
    return msg


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("convert", "field", "value"),
    [
        pytest.param(lambda: inbound.request_spec(_spec_with(merit=NAN), "spec", None), "spec.merit", "nan",
                     id="merit not a number"),
        pytest.param(lambda: inbound.register_cluster(_cluster_with(tdp_watts=INF), T0), "gpus[0].tdp_watts", "inf",
                     id="infinite board power"),
        pytest.param(lambda: inbound.register_cluster(_cluster_with(memory_gb=NAN), T0), "gpus[0].memory_gb", "nan",
                     id="memory not a number"),
        pytest.param(lambda: inbound.register_cluster(_cluster_with(pue=NAN), T0), "pue", "nan",
                     id="PUE not a number"),
        pytest.param(lambda: inbound.register_cluster(_cluster_with(power_cap_kw=INF), T0), "power_cap_kw", "inf",
                     id="infinite power cap"),
        pytest.param(lambda: inbound.policy_config(common.PolicyConfig(category_shares={"research": NAN})),
                     "policy_config.category_shares[research]", "nan", id="a share not a number"),
        pytest.param(lambda: inbound.policy_config(common.PolicyConfig(carbon_budget_t=INF)),
                     "policy_config.carbon_budget_t", "inf", id="an infinite carbon budget"),
        pytest.param(lambda: inbound.solver_params(common.SolverParams(time_limit_s=NAN, workers=1)),
                     "solver.time_limit_s", "nan", id="time limit not a number"),
    ],
)
def test_a_non_finite_number_is_refused_naming_the_field(convert: Callable[[], object], field: str,
                                                         value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        convert()
    assert (err.value.field, err.value.message) == (field, f"must be a finite number, got {value}")


def test_a_non_finite_carbon_forecast_is_refused_naming_the_step() -> None:
    report = inv.InventoryReport(cluster_id="c-1", inventory=inv.Inventory(
        gpus={"H100": 8}, carbon=inv.CarbonForecast(start=Timestamp(seconds=0), g_per_kwh=[120.0, INF])))
    with pytest.raises(InvalidInput) as err:
        inbound.inventory_report(report)
    assert (err.value.field, err.value.message) == ("inventory.carbon.g_per_kwh[1]", "must be a finite number, got inf")


# -- a plan's stability figures reach the wire --------------------------------------------------------


@pytest.mark.parametrize(
    "stable",
    [
        pytest.param({}, id="a plan that owes nothing and has no one waiting"),
        pytest.param({"wasted": 2, "justified_complaints": 3, "held_back": "public: 235 of 253 h placed",
                      "level_spread": LevelSpread(ratio=1.5, highest="sme", lowest="public",
                                                  levels={"public": 2.0, "sme": 3.0})},
                     id="wasted, complaints, spread and the category holding it back"),
        pytest.param({"level_spread": LevelSpread(ratio=None, highest="sme", lowest="public",
                                                  levels={"public": 0.0, "sme": 3.0})},
                     id="a spread over a level of 0 has no ratio"),
    ],
)
def test_plan_metrics_carry_stability(stable: dict[str, Any]) -> None:
    m = Metrics(value=1.0, **stable)
    wire = outbound.metrics(m)
    spread = m.level_spread
    assert (wire.wasted, wire.justified_complaints) == (m.wasted, m.justified_complaints)
    assert (wire.held_back if wire.HasField("held_back") else None) == m.held_back
    assert wire.HasField("level_spread") == (spread is not None)
    if spread is not None:
        ls = wire.level_spread
        assert (ls.ratio if ls.HasField("ratio") else None, ls.highest, ls.lowest, dict(ls.levels)) == (
            spread.ratio, spread.highest, spread.lowest, spread.levels)
