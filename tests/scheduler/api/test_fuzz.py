"""Hypothesis fuzzing of every request message: malformed input gets INVALID_ARGUMENT naming the field.

Each example takes a well-formed message of one RPC, breaks exactly one field with a drawn bad value
(an id that breaks the id pattern, a count below one, NaN or infinity, an unknown enum number, a
timestamp out of range, a forged page token, a missing reason...), and calls the real server over a
real channel on a SQLite database.  The status must be INVALID_ARGUMENT, the ``allmende-field``
trailer must name the broken field, and after all 1,000 calls a dump of the database must equal the
dump taken before: validation happens before any write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import execution_pb2 as exe
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import ledger_pb2 as led
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from scheduler.api.gen.allmende.v1 import review_pb2 as rev
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rnd
from scheduler.api.status import FIELD_KEY
from scheduler.domain import MAX_CARBON_POINTS, MAX_RUNTIME_ENV_BYTES, MAX_RUNTIME_ENV_DEPTH, MAX_WITHDRAWALS, Role
from tests.scheduler.api.harness import T0, InProcessServer, auth
from tests.scheduler.api.rpcs import Rpc, all_rpcs

EXAMPLES = 1000
START = Timestamp(seconds=int(T0.timestamp()))

# -- bad values --------------------------------------------------------------------------------------

bad_ids = st.one_of(
    st.sampled_from(["-leading-dash", "has space", "semi;colon", "ünïcode", "a" * 201, "../etc", "\x00"]),
    st.text(min_size=1, max_size=12).filter(lambda s: not s[0].isascii() or not s[0].isalnum()),
)
required_ids = st.one_of(st.just(""), bad_ids)
non_positive = st.integers(-(2**31), 0)
negative = st.integers(-(2**31), -1)
not_finite = st.sampled_from([float("nan"), float("inf"), float("-inf")])
bad_unit = st.one_of(not_finite, st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
                     st.floats(min_value=1.000001, allow_nan=False, allow_infinity=False))
bad_enum = st.integers(8, 2**31 - 1)
bad_tokens = st.one_of(st.sampled_from(["x", "!!!", "c2VxOmFiYw", "b2Zmc2V0OjEw"]),
                       st.text(min_size=1, max_size=20).filter(lambda s: not s.isalnum()))
long_text = st.integers(2001, 3000).map(lambda n: "r" * n)
control_text = st.sampled_from(["bell\x07", "nul\x00here", "esc\x1b[31m", "[/oops] title\x1b[2J", "line\nbreak",
                                "tab\there", "abc\u202edcba", "[bold]x[/bold]\r"])
bad_reasons = st.one_of(st.just(""), st.just("   "), long_text, control_text)
bad_countries = st.one_of(st.sampled_from(["de", "DEU", "D", "", "1A", "ÄÖ"]), st.text(max_size=4).filter(
    lambda s: not (len(s) == 2 and s.isascii() and s.isupper() and s.isalpha())))
deep_levels = st.integers(MAX_RUNTIME_ENV_DEPTH + 1, 30)  # past the limit, within what protobuf itself decodes
too_many_carbon = st.integers(MAX_CARBON_POINTS + 1, MAX_CARBON_POINTS + 100)
huge_seconds = st.one_of(st.integers(253402300800, 2**62), st.integers(-(2**62), -62135596801))


# -- well-formed messages, and one field broken at a time -------------------------------------------


@dataclass(frozen=True)
class Ctx:
    round_id: str
    request_id: str
    cluster_id: str


Base = Callable[[Ctx], Message]
Setter = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Breakage:
    field: str
    values: st.SearchStrategy[Any]
    apply: Setter


def put(path: str) -> Setter:
    """A setter for a dotted path (``spec.gpus``, ``page.page_size``)."""
    *parents, last = path.split(".")

    def set_(msg: Any, value: Any) -> None:
        for p in parents:
            msg = getattr(msg, p)
        setattr(msg, last, value)

    return set_


def brk(field: str, values: st.SearchStrategy[Any], apply: Setter | None = None) -> Breakage:
    return Breakage(field, values, apply or put(field))


def clear(path: str) -> Setter:
    *parents, last = path.split(".")

    def clear_(msg: Any, _: Any) -> None:
        for p in parents:
            msg = getattr(msg, p)
        msg.ClearField(last)

    return clear_


def spec_breakages(prefix: str) -> list[Breakage]:
    def runtime(key: str | None) -> Setter:
        def set_(m: Any, v: Any) -> None:
            getattr(m, prefix).runtime_hours.clear()
            if key is not None:
                getattr(m, prefix).runtime_hours[key] = 3.0 if v is None else v
        return set_

    def runtime_key(m: Any, v: str) -> None:
        getattr(m, prefix).runtime_hours.clear()
        getattr(m, prefix).runtime_hours[v] = 3.0

    def slots_too(m: Any, v: int) -> None:
        getattr(m, prefix).runtime_slots["H100"] = v

    def deadline_before(m: Any, minutes: int) -> None:
        getattr(m, prefix).deadline.FromSeconds(START.seconds + 3600 - 60 * minutes)  # earliest is START + 1 h

    def countries(m: Any, v: str) -> None:
        del getattr(m, prefix).countries[:]
        getattr(m, prefix).countries.append(v)

    def env_number(m: Any, v: float) -> None:
        getattr(m, prefix).runtime_env.update({"env_vars": {"A": "1"}, "tuning": {"rates": [0.1, v]}})

    def env_deep(m: Any, levels: int) -> None:
        inner = getattr(m, prefix).runtime_env
        for _ in range(levels):
            inner.fields["a"].struct_value.SetInParent()
            inner = inner.fields["a"].struct_value

    def env_big(m: Any, n: int) -> None:
        getattr(m, prefix).runtime_env.update({"pip": ["p" * 1000] * n})

    return [
        brk(f"{prefix}.title", st.one_of(st.just(""), st.integers(301, 400).map(lambda n: "t" * n), control_text)),
        brk(f"{prefix}.runtime_env", not_finite, env_number),
        brk(f"{prefix}.runtime_env", deep_levels, env_deep),
        brk(f"{prefix}.runtime_env", st.integers(MAX_RUNTIME_ENV_BYTES // 1000 + 1, 100), env_big),
        brk(f"{prefix}.org", required_ids),
        brk(f"{prefix}.category", required_ids),
        brk(f"{prefix}.gpus", non_positive),
        brk(f"{prefix}.runtime_hours", st.just(None), runtime(None)),
        brk(f"{prefix}.runtime_hours", st.one_of(non_positive, not_finite, st.floats(8785, 1e300)), runtime("H100")),
        brk(f"{prefix}.runtime_hours", bad_ids, runtime_key),
        brk(f"{prefix}.runtime_hours", st.integers(1, 10), slots_too),  # hours and deprecated slots at once
        brk(f"{prefix}.earliest_slot", st.one_of(negative, st.integers(1, 5))),  # deprecated beside hours
        brk(f"{prefix}.deadline", st.integers(0, 10**6), deadline_before),
        *[brk(f"{prefix}.{name}", huge_seconds, put(f"{prefix}.{name}.seconds")) for name in ("earliest", "deadline")],
        brk(f"{prefix}.countries", bad_countries, countries),
        brk(f"{prefix}.merit", bad_unit),
        brk(f"{prefix}.entrypoint", st.one_of(st.just(""), st.integers(10_001, 11_000).map(lambda n: "e" * n))),
    ]


def spec() -> req.RequestSpec:
    return req.RequestSpec(title="fuzz", org="embl", category="research", gpus=2, runtime_hours={"H100": 3.0},
                           earliest=Timestamp(seconds=START.seconds + 3600),
                           deadline=Timestamp(seconds=START.seconds + 9 * 3600), countries=["DE"], merit=0.5,
                           entrypoint="python x.py")


def page_breakages() -> list[Breakage]:
    return [
        brk("page.page_size", st.one_of(negative, st.integers(501, 2**31 - 1))),
        brk("page.page_token", bad_tokens),
    ]


def ts_breakage(field: str) -> list[Breakage]:
    return [
        brk(field, st.just(None), clear(field)),
        brk(field, huge_seconds, lambda m, v, f=field: put(f + ".seconds")(m, v)),
    ]


def window(m: Any) -> Any:
    return m.inventory.withdrawn[0]


TABLE: dict[str, tuple[Base, list[Breakage]]] = {
    "RegisterCluster": (
        lambda c: inv.RegisterClusterRequest(
            cluster_id="fuzz-cluster", country="DE", operator="op", pue=1.2, power_cap_kw=50.0,
            gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700, memory_gb=80)]),
        [
            brk("cluster_id", required_ids),
            brk("country", bad_countries),
            brk("operator", st.one_of(st.integers(201, 300).map(lambda n: "o" * n), control_text)),
            brk("gpus", st.just(None), clear("gpus")),
            brk("gpus[0].gpu_type", required_ids, lambda m, v: setattr(m.gpus[0], "gpu_type", v)),
            brk("gpus[0].count", negative, lambda m, v: setattr(m.gpus[0], "count", v)),
            brk("gpus[0].tdp_watts", st.one_of(not_finite, st.floats(max_value=0, allow_nan=False)),
                lambda m, v: setattr(m.gpus[0], "tdp_watts", v)),
            brk("gpus[0].memory_gb", st.one_of(not_finite, st.floats(max_value=-1e-9, allow_nan=False)),
                lambda m, v: setattr(m.gpus[0], "memory_gb", v)),
            brk("gpus[1].gpu_type", st.just("H100"), lambda m, v: m.gpus.add(gpu_type=v, count=1, tdp_watts=1)),
            brk("pue", st.one_of(not_finite, st.floats(0.01, 0.99), st.floats(5.01, 1e9))),
            brk("power_cap_kw", st.one_of(not_finite, st.floats(max_value=0, allow_nan=False))),
        ],
    ),
    "ReportInventory": (
        lambda c: inv.InventoryReport(cluster_id=c.cluster_id, inventory=inv.Inventory(
            gpus={"H100": 8},
            withdrawn=[inv.WithdrawnWindow(gpu_type="H100", gpus=2, start=START,
                                           end=Timestamp(seconds=START.seconds + 3600))],
            carbon=inv.CarbonForecast(start=START, step_minutes=60, g_per_kwh=[100.0, 200.0]))),
        [
            brk("cluster_id", required_ids),
            brk("report", st.just(None), clear("inventory")),
            brk("inventory.gpus", negative, lambda m, v: m.inventory.gpus.__setitem__("H100", v)),
            brk("inventory.gpus", bad_ids, lambda m, v: m.inventory.gpus.__setitem__(v, 1)),
            brk("inventory.withdrawn[0].gpus", non_positive, lambda m, v: setattr(window(m), "gpus", v)),
            brk("inventory.withdrawn[0].gpu_type", required_ids, lambda m, v: setattr(window(m), "gpu_type", v)),
            brk("inventory.withdrawn[0]", st.integers(0, 10**9),
                lambda m, v: window(m).end.CopyFrom(Timestamp(seconds=START.seconds - v))),
            brk("inventory.withdrawn[0].start", st.just(None), lambda m, v: window(m).ClearField("start")),
            brk("inventory.withdrawn[0].end", huge_seconds, lambda m, v: setattr(window(m).end, "seconds", v)),
            brk("inventory.carbon.g_per_kwh", st.one_of(not_finite, st.floats(max_value=-1e-9, allow_nan=False)),
                lambda m, v: m.inventory.carbon.g_per_kwh.append(v)),
            brk("inventory.carbon.g_per_kwh", st.just(None), lambda m, v: m.inventory.carbon.ClearField("g_per_kwh")),
            brk("inventory.carbon.step_minutes", negative, put("inventory.carbon.step_minutes")),
            brk("inventory.carbon.start", st.just(None), clear("inventory.carbon.start")),
            brk("inventory.carbon.g_per_kwh", too_many_carbon,
                lambda m, v: m.inventory.carbon.g_per_kwh.extend([100.0] * v)),
            brk("inventory.withdrawn", st.integers(MAX_WITHDRAWALS + 1, MAX_WITHDRAWALS + 10),
                lambda m, v: m.inventory.withdrawn.extend([window(m)] * v)),
        ],
    ),
    "ListClusters": (lambda c: inv.ListClustersRequest(), [*page_breakages(), brk("state", bad_enum)]),
    "GetCluster": (lambda c: inv.GetClusterRequest(cluster_id=c.cluster_id), [brk("cluster_id", required_ids)]),
    "SubmitRequest": (
        lambda c: req.SubmitRequestRequest(idempotency_key="fuzz-key", spec=spec()),
        [
            brk("idempotency_key", st.one_of(st.just(""), st.integers(201, 300).map(lambda n: "k" * n), control_text)),
            brk("spec", st.just(None), clear("spec")),
            *spec_breakages("spec"),
        ],
    ),
    "GetRequest": (lambda c: req.GetRequestRequest(request_id=c.request_id), [brk("request_id", required_ids)]),
    "ListRequests": (
        lambda c: req.ListRequestsRequest(),
        [*page_breakages(), brk("org", bad_ids), brk("state", bad_enum), brk("category", bad_ids),
         brk("round_id", bad_ids)],
    ),
    "AmendRequest": (
        lambda c: req.AmendRequestRequest(request_id=c.request_id, spec=spec(), reason="typo"),
        [brk("request_id", required_ids), brk("spec", st.just(None), clear("spec")), *spec_breakages("spec"),
         brk("reason", st.one_of(long_text, control_text))],
    ),
    "WithdrawRequest": (
        lambda c: req.WithdrawRequestRequest(request_id=c.request_id, reason="done"),
        [brk("request_id", required_ids), brk("reason", st.one_of(long_text, control_text))],
    ),
    "OpenRound": (
        lambda c: rnd.OpenRoundRequest(
            horizon=common.Horizon(start=START, slot_minutes=60, slots=24), policy=rnd.POLICY_FAIR,
            policy_config=common.PolicyConfig(category_shares={"research": 0.6, "industry": 0.4}, org_cap_share=0.5,
                                              energy_budget_mwh=10, carbon_budget_t=2),
            solver=common.SolverParams(time_limit_s=5, workers=1, seed=1, deterministic=True), reason="weekly"),
        [
            brk("horizon", st.just(None), clear("horizon")),
            *ts_breakage("horizon.start"),
            brk("horizon.slots", non_positive),
            brk("horizon.slot_minutes", negative),
            brk("policy", st.integers(3, 2**31 - 1)),
            brk("policy_config.category_shares", st.floats(0.01, 0.3),
                lambda m, v: m.policy_config.category_shares.__setitem__("research", v)),
            brk("policy_config.category_shares", not_finite,
                lambda m, v: m.policy_config.category_shares.__setitem__("research", v)),
            brk("policy_config.category_shares", bad_ids,
                lambda m, v: m.policy_config.category_shares.__setitem__(v, 0.0)),
            brk("policy_config.org_cap_share", st.one_of(not_finite, st.floats(max_value=0), st.floats(1.0001, 1e6))),
            brk("policy_config.energy_budget_mwh", st.one_of(not_finite, st.floats(max_value=-1e-9))),
            brk("policy_config.carbon_budget_t", st.one_of(not_finite, st.floats(max_value=-1e-9))),
            brk("solver.time_limit_s", st.one_of(not_finite, st.floats(max_value=-1e-9), st.floats(3601, 1e9))),
            brk("solver.workers", st.one_of(negative, st.integers(65, 2**31 - 1))),
            brk("solver.seed", st.integers(-(2**63), -1)),
            brk("reason", st.one_of(long_text, control_text)),
        ],
    ),
    **{name: (lambda c, t=t: t(round_id=c.round_id), [brk("round_id", required_ids)])
       for name, t in (("RunRound", rnd.RunRoundRequest), ("GetRound", rnd.GetRoundRequest),
                       ("GetPlan", rnd.GetPlanRequest), ("ReplayRound", rnd.ReplayRoundRequest),
                       ("GetLedgerEntry", led.GetLedgerEntryRequest))},
    "ListRounds": (lambda c: rnd.ListRoundsRequest(), [*page_breakages(), brk("state", bad_enum)]),
    "Explain": (
        lambda c: rnd.ExplainRequest(round_id=c.round_id, request_id=c.request_id),
        [brk("round_id", required_ids), brk("request_id", required_ids)],
    ),
    **{name: (
        lambda c, t=t: t(round_id=c.round_id, request_ids=[c.request_id], reason="checked"),
        [
            brk("round_id", required_ids),
            brk("request_ids[1]", bad_ids, lambda m, v: m.request_ids.append(v)),
            brk("request_ids", st.just(None), lambda m, v: m.request_ids.append(m.request_ids[0])),
            brk("reason", bad_reasons),
        ]) for name, t in (("Approve", rev.ApproveRequest), ("Reject", rev.RejectRequest))},
    "Pin": (
        lambda c: rev.PinRequest(round_id=c.round_id, request_id=c.request_id, cluster_id=c.cluster_id,
                                 gpu_type="H100", start_slot=0, reason="ops"),
        [brk("round_id", required_ids), brk("request_id", required_ids), brk("cluster_id", required_ids),
         brk("gpu_type", required_ids), brk("start_slot", negative), brk("reason", bad_reasons)],
    ),
    "Publish": (
        lambda c: rev.PublishRequest(round_id=c.round_id, reason="weekly"),
        [brk("round_id", required_ids), brk("reason", bad_reasons)],
    ),
    "ListAuditEvents": (
        lambda c: rev.ListAuditEventsRequest(),
        [*page_breakages(), brk("subject_id", st.one_of(long_text, control_text))],
    ),
    "ListPublishedRounds": (lambda c: led.ListPublishedRoundsRequest(), page_breakages()),
    "ListExecutions": (lambda c: exe.ListExecutionsRequest(round_id=c.round_id),
                       [*page_breakages(), brk("round_id", bad_ids)]),
}
RPCS = {r.name: r for r in all_rpcs()}


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, Ctx, Path, str]]:
    """A SQLite database holding a cluster, a request and a proposed round: something to damage."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    server = InProcessServer(f"sqlite:///{path}")
    stubs = server.stubs()
    operator = server.token(Role.OPERATOR)
    md = auth(operator)
    stubs.inventory.RegisterCluster(inv.RegisterClusterRequest(
        cluster_id="jsc", country="DE", gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)]), metadata=md)
    made = stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="k", spec=spec()), metadata=md)
    opened = stubs.rounds.OpenRound(rnd.OpenRoundRequest(
        horizon=common.Horizon(start=START, slots=12), solver=common.SolverParams(time_limit_s=1)), metadata=md)
    list(stubs.rounds.RunRound(rnd.RunRoundRequest(round_id=opened.round_id), metadata=md))
    yield server, Ctx(opened.round_id, made.request_id, "jsc"), path, operator
    server.close()


def test_every_request_message_has_breakages() -> None:
    assert sorted(TABLE) == sorted(RPCS)
    assert all(TABLE[name][1] for name in TABLE)


def test_malformed_input_is_invalid_argument_naming_the_field_and_writes_nothing(
    world: tuple[InProcessServer, Ctx, Path, str],
) -> None:
    server, ctx, path, operator = world
    channel = grpc.insecure_channel(server.address)
    metadata = auth(operator)
    cases = st.sampled_from(sorted(TABLE)).flatmap(
        lambda name: st.sampled_from(TABLE[name][1]).flatmap(
            lambda b: b.values.map(lambda v: (name, b, v))))
    before = dump(path)
    seen: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(cases)
    def call(case: tuple[str, Breakage, Any]) -> None:
        name, breakage, value = case
        rpc: Rpc = RPCS[name]
        msg = TABLE[name][0](ctx)
        breakage.apply(msg, value)
        with pytest.raises(grpc.RpcError) as err:
            rpc.call(channel, msg, metadata, timeout=10)
        code = err.value.code()
        field = dict(err.value.trailing_metadata() or ()).get(FIELD_KEY, "")
        detail = err.value.details()
        assert code == grpc.StatusCode.INVALID_ARGUMENT, f"{name} {breakage.field}={value!r}: {code} {detail}"
        assert field.startswith(breakage.field), f"{name} {breakage.field}={value!r}: named {field!r} ({detail})"
        assert breakage.field in detail
        seen.append(name)

    call()
    assert len(seen) >= EXAMPLES
    assert set(seen) == set(TABLE), "every request message was fuzzed"
    assert dump(path) == before, "a malformed request changed the database"
    still_listing(channel, metadata)


class Raw:
    """Bytes sent as they are, in place of a message."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializeToString(self) -> bytes:
        return self.data


def still_listing(channel: grpc.Channel, metadata: list[tuple[str, str]]) -> None:
    """Every list, and the public ledger, still answers."""
    for name in ("ListClusters", "ListRequests", "ListRounds", "ListAuditEvents", "ListExecutions",
                 "ListPublishedRounds"):
        rpc = RPCS[name]
        rpc.call(channel, rpc.request_type(), metadata)


@pytest.mark.parametrize("data", [
    pytest.param(b"\xff\xff\xff\xff\x0f", id="a tag with no valid wire type"),
    pytest.param(b"\x0a\x05ab", id="a field cut short"),
])
def test_bytes_that_are_no_message_are_invalid_argument_for_every_rpc(
    world: tuple[InProcessServer, Ctx, Path, str], data: bytes,
) -> None:
    server, _, path, operator = world
    channel = grpc.insecure_channel(server.address)
    metadata = auth(operator)
    before = dump(path)
    for rpc in RPCS.values():
        with pytest.raises(grpc.RpcError) as err:
            rpc.call(channel, Raw(data), metadata, timeout=10)  # type: ignore[arg-type]
        detail = err.value.details() or ""
        assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT,), f"{rpc.name}: {err.value.code()} {detail}"
        assert "Error" not in detail and "<class" not in detail, f"{rpc.name}: {detail}"
    assert dump(path) == before
    still_listing(channel, metadata)
