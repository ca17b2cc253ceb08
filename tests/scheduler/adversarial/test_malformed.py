"""Item 3: malformed input is INVALID_ARGUMENT with a sentence, never UNKNOWN with a Python type name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import requests_pb2 as req
from tests.scheduler.adversarial.conftest import World, spec

SUBMIT = "/allmende.v1.RequestService/SubmitRequest"
PYTHON_NAMES = ("Error", "Exception", "Traceback", "<class", "Unexpected")


def with_env(value: Any) -> Callable[[World], Any]:
    def call(world: World) -> Any:
        s = spec()
        s.runtime_env.update({"env_vars": {"X": "1"}, "tuning": value})
        return world.stubs.requests.SubmitRequest(req.SubmitRequestRequest(idempotency_key="k", spec=s),
                                                  metadata=world.applicant)
    return call


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited field, encoded by hand: the client library itself refuses to build the deepest ones."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def nested(levels: int) -> bytes:
    """A Struct ``{"a": {"a": ... {}}}`` ``levels`` objects deep."""
    inner = b""
    for _ in range(levels):
        inner = field(1, field(1, b"a") + field(2, field(5, inner)))
    return inner


def deep(levels: int) -> Callable[[World], Any]:
    def call(world: World) -> Any:
        body = spec().SerializeToString() + field(11, nested(levels))
        return raw(field(1, b"k") + field(2, body))(world)
    return call


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def raw(data: bytes) -> Callable[[World], Any]:
    def call(world: World) -> Any:
        send = world.stubs.channel.unary_unary(SUBMIT, request_serializer=None,
                                               response_deserializer=req.AllocationRequest.FromString)
        return send(data, metadata=world.applicant)
    return call


@pytest.mark.parametrize("call", [
    pytest.param(with_env(float("nan")), id="runtime_env holds NaN"),
    pytest.param(with_env([1.0, float("inf")]), id="runtime_env holds infinity inside a list"),
    pytest.param(deep(25), id="runtime_env nested 25 levels deep"),
    pytest.param(deep(200), id="runtime_env nested past protobuf's recursion limit"),
    pytest.param(raw(b"\xff\xff\xff\xff\x0f"), id="bytes that are no message at all"),
    pytest.param(raw(b"\x12\x05\x0a\x03\xc3\x28a"), id="a title that is not UTF-8"),
])
def test_malformed_input_is_invalid_argument_with_a_sentence(call: Callable[[World], Any], world: World) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(world)
    detail = err.value.details() or ""
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, detail
    assert detail and not any(name in detail for name in PYTHON_NAMES), detail
    assert world.stubs.requests.ListRequests(req.ListRequestsRequest(), metadata=world.operator).requests == []
    assert world.stubs.inventory.ListClusters(inv.ListClustersRequest(), metadata=world.operator).clusters
