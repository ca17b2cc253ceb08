"""Every RPC of the contract, callable generically from its descriptor (for table and fuzz tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from scheduler.api.gen.allmende.v1 import (
    execution_pb2,
    inventory_pb2,
    ledger_pb2,
    requests_pb2,
    review_pb2,
    rounds_pb2,
)

MODULES = (inventory_pb2, requests_pb2, rounds_pb2, review_pb2, ledger_pb2, execution_pb2)


@dataclass(frozen=True)
class Rpc:
    path: str  # /allmende.v1.Service/Method
    method: MethodDescriptor

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def request_type(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_type(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)

    def call(self, channel: grpc.Channel, request: Message, metadata: list[tuple[str, str]], timeout: float = 30) -> (
            Any):
        """One call; a streaming request sends ``request`` alone, a streaming response is read to the end."""
        kw = {
            "request_serializer": type(request).SerializeToString,
            "response_deserializer": self.response_type.FromString,
        }
        client, server = self.method.client_streaming, self.method.server_streaming
        if client and not server:
            return channel.stream_unary(self.path, **kw)(iter([request]), metadata=metadata, timeout=timeout)
        if server and not client:
            return list(channel.unary_stream(self.path, **kw)(request, metadata=metadata, timeout=timeout))
        return channel.unary_unary(self.path, **kw)(request, metadata=metadata, timeout=timeout)


def all_rpcs() -> list[Rpc]:
    out = []
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                out.append(Rpc(f"/{service.full_name}/{m.name}", m))
    return sorted(out, key=lambda r: r.path)


def code_of(fn: Any) -> grpc.StatusCode:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return, attr-defined]
    return grpc.StatusCode.OK


def messages(rpcs: list[Rpc]) -> Iterator[type[Message]]:
    seen = set()
    for r in rpcs:
        if r.request_type not in seen:
            seen.add(r.request_type)
            yield r.request_type
