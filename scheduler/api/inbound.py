"""Proto -> domain, validated at the edge: bad input raises InvalidInput naming the proto field.

Nothing here touches the store, so a malformed request is refused before any read or
write.  Pydantic does the checking (the domain models carry every rule once); this
module only reshapes messages into dicts and translates pydantic's error locations
back into the proto's field paths (``spec.runtime_slots[H100]``, ``gpus[2].tdp_watts``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, TypeAdapter, ValidationError

from scheduler.api.gen.allmende.v1 import common_pb2 as common
from scheduler.api.gen.allmende.v1 import inventory_pb2 as inventory
from scheduler.api.gen.allmende.v1 import requests_pb2 as requests
from scheduler.api.gen.allmende.v1 import review_pb2 as review
from scheduler.api.gen.allmende.v1 import rounds_pb2 as rounds
from scheduler.domain import (
    DEPRECATED_SLOTS,
    MAX_CARBON_POINTS,
    MAX_OPERATOR,
    MAX_RUNTIME_ENV_BYTES,
    MAX_RUNTIME_ENV_DEPTH,
    MAX_WITHDRAWALS,
    CarbonForecast,
    ClusterRecord,
    ExecutionTarget,
    Inventory,
    RequestSpec,
    Withdrawal,
)
from scheduler.errors import InvalidInput
from scheduler.service import NewRound, known_cursor
from scheduler.states import ClusterState, RequestState, RoundState
from scheduler.store import PageRequest
from scheduler.text import plain_text, reason
from solver import policies
from solver.params import SolveParams
from solver.problem import GpuType, Horizon, Id, Pin, PolicyConfig

log = logging.getLogger("allmende.api")
_warned_orgs: set[str] = set()  # organisations told in this process that they submit in deprecated slots
M = TypeVar("M", bound=BaseModel)
S = TypeVar("S", bound=StrEnum)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_LIST = 1000
_ID: TypeAdapter[str] = TypeAdapter(Id)
POLICIES: dict[rounds.Policy, str] = {
    rounds.POLICY_UNSPECIFIED: policies.DEFAULT,
    **{getattr(rounds, f"POLICY_{n.upper()}"): n for n in policies.NAMES},
}


# -- scalars ----------------------------------------------------------------------------------


def identifier(value: str, field: str) -> str:
    if not value:
        raise InvalidInput(field, "is required")
    try:
        return _ID.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput(field, _first(exc)[1]) from None


def optional_identifier(value: str, field: str) -> str | None:
    return identifier(value, field) if value else None


def identifiers(values: Sequence[str], field: str) -> list[str]:
    if len(values) > MAX_LIST:
        raise InvalidInput(field, f"at most {MAX_LIST} ids in one call")
    out = [identifier(v, f"{field}[{i}]") for i, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise InvalidInput(field, "lists an id twice")
    return out


ID_KINDS = {"round-": "round", "req-": "request", "alloc-": "allocation", "tok-": "token"}


def audit_subject(value: str, field: str = "subject_id") -> str | None:
    """``round/ROUND_ID``, or the bare ``ROUND_ID``: the kind follows from the id's prefix (else a cluster)."""
    text = reason(value, field, required=False)
    if not text or "/" in text:
        return text or None
    kind = next((k for prefix, k in ID_KINDS.items() if text.startswith(prefix)), "cluster")
    return f"{kind}/{text}"


def timestamp(ts: Timestamp, field: str) -> datetime:
    try:
        when: datetime = ts.ToDatetime(tzinfo=UTC)
        return when
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(field, f"is not a valid timestamp ({exc})") from None


def page(msg: common.PageRequest, field: str = "page", max_size: int = MAX_PAGE_SIZE) -> PageRequest:
    if msg.page_size < 0 or msg.page_size > max_size:
        raise InvalidInput(f"{field}.page_size", f"must be between 0 and {max_size}, got {msg.page_size}")
    if msg.page_token and not known_cursor(msg.page_token):
        raise InvalidInput(f"{field}.page_token", "is not a token this server issued")
    return PageRequest(limit=msg.page_size or DEFAULT_PAGE_SIZE, cursor=msg.page_token or None)


def state_filter(value: int, enum: type[S], prefix: str, field: str) -> S | None:
    """A proto enum filter to the domain state; UNSPECIFIED means no filter."""
    if value == 0:
        return None
    name = _enum_name(value, enum, prefix)
    if name is None:
        raise InvalidInput(field, f"unknown value {value}")
    return enum(name)


def _enum_name(value: int, enum: type[S], prefix: str) -> str | None:
    wire = _WIRE_ENUMS.get(enum)
    if wire is None:
        return None
    try:
        name = wire.Name(value)
    except ValueError:
        return None
    state = name.removeprefix(prefix).lower()
    return state if state in {m.value for m in enum} else None


_WIRE_ENUMS: dict[type[StrEnum], EnumTypeWrapper] = {
    ClusterState: inventory.ClusterState,
    RequestState: requests.RequestState,
    RoundState: rounds.RoundState,
}


# -- validation through the domain models -----------------------------------------------------


def validated(model: type[M], data: Mapping[str, Any], prefix: str, rename: Mapping[str, str] | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, msg = _first(exc)
        path = _path(loc, rename or {}) or _named_in(msg, model)
        raise InvalidInput(f"{prefix}.{path}" if path else prefix, msg) from None


def _named_in(msg: str, model: type[BaseModel]) -> str:
    """For a whole-model error ("deadline_slot (0) must be after ..."), the field it names first."""
    hits = [(msg.find(name), -len(name), name) for name in model.model_fields if name in msg]
    return min(hits)[2] if hits else ""  # the first named, and of "deadline" and "deadline_slot" the longer


def _first(exc: ValidationError) -> tuple[tuple[int | str, ...], str]:
    """The first error's location and message; a NaN or infinity is named as such, whichever rule caught it."""
    err = exc.errors(include_url=False)[0]
    value = err.get("input")
    if isinstance(value, float) and not math.isfinite(value):
        return tuple(err["loc"]), f"must be a finite number, got {value}"
    return tuple(err["loc"]), str(err["msg"]).removeprefix("Value error, ")


def _path(loc: Iterable[int | str], rename: Mapping[str, str]) -> str:
    """Pydantic's ``("runtime_slots", "H100")`` as the proto path ``runtime_slots[H100]``."""
    out, prev = "", ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int) or prev in _MAP_FIELDS:
            out += f"[{part}]"
            prev = ""
        else:
            out += ("." if out else "") + rename.get(part, part)
            prev = part
    return out


_MAP_FIELDS = {"runtime_slots", "runtime_hours", "gpus", "category_shares", "gpu_power_w"}


# -- messages ---------------------------------------------------------------------------------


def request_spec(msg: requests.RequestSpec, field: str, idempotency_key: str | None, *,
                 warn: bool = True) -> RequestSpec:
    """The spec a message carries; one in the deprecated slot fields is kept as given, and logged (``warn``) once
    per organisation and process, so that an old client's stream of submissions does not flood the log."""
    if not msg.ByteSize():
        raise InvalidInput(field, "is required")
    data: dict[str, Any] = {
        **_plain_fields(msg, (*RequestSpec.SHARED_FIELDS, "runtime_hours", *RequestSpec.LEGACY_FIELDS)),
        **{name: timestamp(getattr(msg, name), f"{field}.{name}") for name in ("earliest", "deadline")
           if msg.HasField(name)},
        "title": plain_text(msg.title, f"{field}.title"),
        "entrypoint": msg.entrypoint,
        "runtime_env": runtime_env(msg.runtime_env, f"{field}.runtime_env"),
        "idempotency_key": idempotency_key,
    }
    spec = validated(RequestSpec, data, field)
    if spec.in_slots and warn and spec.org not in _warned_orgs:
        _warned_orgs.add(spec.org)
        log.warning("a request of %s (key %r) uses the deprecated slot fields: %s", spec.org, idempotency_key,
                    DEPRECATED_SLOTS)
    return spec


def runtime_env(env: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """The Struct as JSON, within :data:`MAX_RUNTIME_ENV_BYTES` and :data:`MAX_RUNTIME_ENV_DEPTH`, numbers finite."""
    if env.ByteSize() > MAX_RUNTIME_ENV_BYTES:
        raise InvalidInput(field, f"is {env.ByteSize():,} bytes; at most {MAX_RUNTIME_ENV_BYTES:,} are accepted")
    _check_json(env, field, 1)
    out: dict[str, Any] = json_format.MessageToDict(env)
    return out


def _check_json(value: struct_pb2.Struct | struct_pb2.ListValue | struct_pb2.Value, path: str, depth: int) -> None:
    if depth > MAX_RUNTIME_ENV_DEPTH:
        raise InvalidInput(path, f"nests deeper than {MAX_RUNTIME_ENV_DEPTH} levels")
    if isinstance(value, struct_pb2.Struct):
        for key, item in value.fields.items():
            _check_json(item, f"{path}.{key}", depth)
    elif isinstance(value, struct_pb2.ListValue):
        for i, item in enumerate(value.values):
            _check_json(item, f"{path}[{i}]", depth)
    else:
        kind = value.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(value.number_value):
            raise InvalidInput(path, f"must be a finite number, got {value.number_value}: JSON has no NaN or infinity")
        if kind in ("struct_value", "list_value"):
            _check_json(getattr(value, kind), path, depth + 1)


def _plain_fields(msg: Message, names: Iterable[str]) -> dict[str, Any]:
    """The named fields as plain values: an unset ``optional`` left out, a map as a dict, an empty list as None."""
    out: dict[str, Any] = {}
    for name in names:
        f = msg.DESCRIPTOR.fields_by_name[name]
        if f.has_presence and not msg.HasField(name):
            continue
        value = getattr(msg, name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value = dict(value)
        elif f.is_repeated:
            value = list(value) or None
        out[name] = value
    return out


def submit(msg: requests.SubmitRequestRequest) -> RequestSpec:
    key = msg.idempotency_key
    if not key:
        raise InvalidInput("idempotency_key", "is required, so that a retry returns the same request")
    if len(key) > 200 or not key.isprintable():
        raise InvalidInput("idempotency_key", "must be at most 200 printable characters")
    return request_spec(msg.spec, "spec", key)


def register_cluster(msg: inventory.RegisterClusterRequest, now: datetime) -> ClusterRecord:
    identifier(msg.cluster_id, "cluster_id")
    types: dict[str, GpuType] = {}
    counts: dict[str, int] = {}
    if not msg.gpus:
        raise InvalidInput("gpus", "must list at least one GPU type")
    for i, pool in enumerate(msg.gpus):
        g = identifier(pool.gpu_type, f"gpus[{i}].gpu_type")
        if g in types:
            raise InvalidInput(f"gpus[{i}].gpu_type", f"lists {g} twice")
        if pool.count < 0:
            raise InvalidInput(f"gpus[{i}].count", "must be at least 0")
        if pool.tdp_watts <= 0:
            raise InvalidInput(f"gpus[{i}].tdp_watts", "must be greater than 0")
        if pool.memory_gb < 0:
            raise InvalidInput(f"gpus[{i}].memory_gb", "must be 0 (unknown) or positive")
        types[g] = validated(GpuType, {"tdp_watts": pool.tdp_watts, "memory_gb": pool.memory_gb or None}, f"gpus[{i}]")
        counts[g] = pool.count
    data: dict[str, Any] = {
        "id": msg.cluster_id,
        "operator": msg.operator,
        "country": msg.country,
        "gpu_types": types,
        "gpus": counts,
        "pue": msg.pue or 1.0,
        "registered_at": now,
    }
    if len(msg.operator) > MAX_OPERATOR:
        raise InvalidInput("operator", f"is longer than {MAX_OPERATOR} characters")
    plain_text(msg.operator, "operator")
    if msg.HasField("power_cap_kw"):
        data["power_cap_kw"] = msg.power_cap_kw
    if msg.HasField("execution"):
        data["execution"] = execution_target(msg.execution)
    return _cluster(data)


EXECUTION_KINDS = {inventory.EXECUTION_KIND_RAY: "ray", inventory.EXECUTION_KIND_KUBERAY: "kuberay"}


def execution_target(msg: inventory.ExecutionTarget, field: str = "execution") -> ExecutionTarget:
    if msg.kind not in EXECUTION_KINDS:
        raise InvalidInput(f"{field}.kind", "must be EXECUTION_KIND_RAY or EXECUTION_KIND_KUBERAY")
    data = {"kind": EXECUTION_KINDS[msg.kind], "address": msg.address, "context": msg.context,
            "namespace": msg.namespace}
    return validated(ExecutionTarget, data, field)


def _cluster(data: dict[str, Any]) -> ClusterRecord:
    try:
        return ClusterRecord.model_validate(data)
    except ValidationError as exc:
        loc, msg = _first(exc)
        field = {"id": "cluster_id", "gpu_types": "gpus", "gpus": "gpus"}.get(str(loc[0]), str(loc[0])) if loc else ""
        raise InvalidInput(field or "gpus", msg) from None


def inventory_report(msg: inventory.InventoryReport) -> tuple[str, Inventory | None]:
    """The cluster id and, unless the report is a bare heartbeat, its inventory."""
    cluster = identifier(msg.cluster_id, "cluster_id")
    kind = msg.WhichOneof("report")
    if kind is None:
        raise InvalidInput("report", "must be a heartbeat or an inventory")
    if kind == "heartbeat":
        return cluster, None
    inv = msg.inventory
    if len(inv.withdrawn) > MAX_WITHDRAWALS:
        raise InvalidInput("inventory.withdrawn", f"lists {len(inv.withdrawn):,} windows; at most {MAX_WITHDRAWALS:,}")
    if len(inv.carbon.g_per_kwh) > MAX_CARBON_POINTS:
        raise InvalidInput("inventory.carbon.g_per_kwh", f"holds {len(inv.carbon.g_per_kwh):,} values; at most "
                           f"{MAX_CARBON_POINTS:,} (an hourly forecast a year long)")
    withdrawn = []
    for i, w in enumerate(inv.withdrawn):
        where = f"inventory.withdrawn[{i}]"
        for name in ("start", "end"):
            if not w.HasField(name):
                raise InvalidInput(f"{where}.{name}", "is required")
        data = {
            "gpu_type": w.gpu_type,
            "gpus": w.gpus,
            "start": timestamp(w.start, f"{where}.start"),
            "end": timestamp(w.end, f"{where}.end"),
        }
        withdrawn.append(validated(Withdrawal, data, where))
    carbon = None
    if inv.HasField("carbon"):
        if not inv.carbon.HasField("start"):
            raise InvalidInput("inventory.carbon.start", "is required")
        carbon = validated(
            CarbonForecast,
            {
                "start": timestamp(inv.carbon.start, "inventory.carbon.start"),
                "step_minutes": inv.carbon.step_minutes or 60,
                "values": list(inv.carbon.g_per_kwh),
            },
            "inventory.carbon",
            rename={"values": "g_per_kwh"},
        )
    carried: dict[str, Any] = {}  # only the parts the report carries: the store keeps the rest as it was
    if inv.gpus:
        carried["gpus"] = dict(inv.gpus)
    if inv.gpus or withdrawn:
        carried["unavailable"] = withdrawn
    if carbon is not None:
        carried["carbon"] = carbon
    if inv.gpu_power_w:
        carried["gpu_power_w"] = dict(inv.gpu_power_w)
    return cluster, validated(Inventory, carried, "inventory", rename={"unavailable": "withdrawn"})


def horizon(msg: common.Horizon, field: str = "horizon") -> Horizon:
    if not msg.HasField("start"):
        raise InvalidInput(f"{field}.start", "is required")
    start = timestamp(msg.start, f"{field}.start")
    return validated(Horizon, {"start": start, "slot_minutes": msg.slot_minutes or 60, "slots": msg.slots}, field)


def policy_config(msg: common.PolicyConfig, field: str = "policy_config") -> PolicyConfig:
    return validated(PolicyConfig, _plain_fields(msg, PolicyConfig.model_fields), field)


def solver_params(msg: common.SolverParams, field: str = "solver") -> SolveParams | None:
    if not msg.ByteSize():
        return None
    data: dict[str, Any] = {"seed": msg.seed, "deterministic": msg.deterministic, "workers": msg.workers or 1}
    if msg.time_limit_s:
        data["time_limit_s"] = msg.time_limit_s
    if msg.time_limit_s > 3600:
        raise InvalidInput(f"{field}.time_limit_s", "must be at most 3600 seconds")
    return validated(SolveParams, data, field)


def open_round(msg: rounds.OpenRoundRequest) -> NewRound:
    if not msg.HasField("horizon"):
        raise InvalidInput("horizon", "is required")
    if msg.policy not in POLICIES:
        raise InvalidInput("policy", f"unknown value {msg.policy}")
    return NewRound(
        horizon=horizon(msg.horizon),
        objective=POLICIES[msg.policy],
        policy=policy_config(msg.policy_config),
        params=solver_params(msg.solver),
        reason=reason(msg.reason, required=False),
    )


def pin(msg: review.PinRequest) -> Pin:
    if msg.start_slot < 0:
        raise InvalidInput("start_slot", "must be at least 0")
    return Pin(
        request=identifier(msg.request_id, "request_id"),
        cluster=identifier(msg.cluster_id, "cluster_id"),
        gpu_type=identifier(msg.gpu_type, "gpu_type"),
        start_slot=msg.start_slot,
    )

