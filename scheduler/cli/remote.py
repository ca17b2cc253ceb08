"""The CLI's side of the wire: a channel with the bearer token, the stubs, and readable gRPC errors.

Imported lazily by the client commands (see :mod:`scheduler.cli.client`), so offline commands never load gRPC.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc
import yaml
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from scheduler.api.gen.allmende.v1 import (
    execution_pb2_grpc,
    inventory_pb2_grpc,
    ledger_pb2_grpc,
    requests_pb2,
    requests_pb2_grpc,
    review_pb2_grpc,
    rounds_pb2_grpc,
)
from scheduler.api.status import FIELD_KEY
from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED

T = TypeVar("T")
DEFAULT_SERVER = "127.0.0.1:50051"
SPEC_FIELDS = {f.name for f in requests_pb2.RequestSpec.DESCRIPTOR.fields}


class CliError(Exception):
    """A failure to report on one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED, status: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status  # the gRPC status name, when the server refused


@dataclass
class Remote:
    channel: grpc.Channel
    metadata: list[tuple[str, str]]

    @property
    def inventory(self) -> inventory_pb2_grpc.InventoryServiceStub:
        return inventory_pb2_grpc.InventoryServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def requests(self) -> requests_pb2_grpc.RequestServiceStub:
        return requests_pb2_grpc.RequestServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def rounds(self) -> rounds_pb2_grpc.RoundServiceStub:
        return rounds_pb2_grpc.RoundServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def review(self) -> review_pb2_grpc.ReviewServiceStub:
        return review_pb2_grpc.ReviewServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def ledger(self) -> ledger_pb2_grpc.LedgerServiceStub:
        return ledger_pb2_grpc.LedgerServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def execution(self) -> execution_pb2_grpc.ExecutionServiceStub:
        return execution_pb2_grpc.ExecutionServiceStub(self.channel)  # type: ignore[no-untyped-call]

    def call(self, method: Callable[..., T], request: Any, **kw: Any) -> T:
        """One RPC with the token, its failure turned into a :class:`CliError`."""
        try:
            return method(request, metadata=self.metadata, **kw)
        except grpc.RpcError as exc:
            raise rpc_error(exc) from None


def rpc_error(exc: grpc.RpcError) -> CliError:
    code: grpc.StatusCode = exc.code()
    detail: str = exc.details() or ""
    field = dict(exc.trailing_metadata() or ()).get(FIELD_KEY)
    where = f" (field {field})" if field and field not in detail else ""
    exit_code = EXIT_BAD_INPUT if code == grpc.StatusCode.INVALID_ARGUMENT else EXIT_FAILED
    return CliError(f"{code.name}: {detail}{where}", exit_code, code.name)


def connect(server: str | None, token: str | None, ca: str | None = None, cert: str | None = None,
            key: str | None = None) -> Remote:
    target = server or os.environ.get("ALLMENDE_SERVER", DEFAULT_SERVER)
    bearer = token or os.environ.get("ALLMENDE_TOKEN")
    if ca:
        creds = grpc.ssl_channel_credentials(
            root_certificates=Path(ca).read_bytes(),
            private_key=Path(key).read_bytes() if key else None,
            certificate_chain=Path(cert).read_bytes() if cert else None,
        )
        channel = grpc.secure_channel(target, creds)
    else:
        channel = grpc.insecure_channel(target)
    return Remote(channel, [("authorization", f"Bearer {bearer}")] if bearer else [])


def timestamp(text: str) -> Timestamp:
    """An ISO 8601 instant; without a zone it is taken as UTC."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"not an ISO 8601 time: {text!r}", EXIT_BAD_INPUT) from None
    out = Timestamp()
    out.FromDatetime(when if when.tzinfo else when.replace(tzinfo=UTC))
    return out


def instant(value: object, where: str) -> str:
    """A request file's instant (YAML reads ``2026-12-10T09:00:00Z`` as a datetime) as RFC 3339; a zone is required."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"{where}: not an ISO 8601 time: {value!r}", EXIT_BAD_INPUT) from None
    if not isinstance(value, datetime):
        raise CliError(f"{where}: {value} is not an instant; write a date, a time and a zone, such as "
                       "2026-12-10T09:00:00Z", EXIT_BAD_INPUT)
    if value.tzinfo is None:
        raise CliError(f"{where}: {value.isoformat()} has no time zone; write it in UTC ({value.isoformat()}Z) or "
                       "with an offset (+01:00)", EXIT_BAD_INPUT)
    return value.isoformat()


def load_specs(path: str) -> list[tuple[str, requests_pb2.RequestSpec]]:
    """The request(s) of a YAML or JSON file, each with an idempotency key derived from its content.

    The file holds one request, or ``requests: [...]``: the fields of the API's ``RequestSpec``
    (``runtime_hours`` per GPU type, ``earliest`` and ``deadline`` as ISO 8601 instants with a zone); an
    ``id`` becomes the idempotency key, so submitting the same file twice never makes two requests.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"{path}: {exc}", EXIT_BAD_INPUT) from None
    items = data.get("requests") if isinstance(data, dict) and "requests" in data else [data]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CliError(f"{path}: expected a request or 'requests: [...]'", EXIT_BAD_INPUT)
    out = []
    for i, item in enumerate(items):
        item = dict(item)
        key = str(item.pop("idempotency_key", "") or item.pop("id", "") or "")
        if not key:
            digest = hashlib.sha256(yaml.safe_dump(item, sort_keys=True).encode()).hexdigest()[:32]
            key = f"file-{digest}"
        item.pop("id", None)
        unknown = sorted(set(item) - SPEC_FIELDS)
        if unknown:
            raise CliError(f"{path}: request {i}: unknown field(s) {', '.join(unknown)}", EXIT_BAD_INPUT)
        for name in ("earliest", "deadline"):
            if item.get(name) is not None:
                item[name] = instant(item[name], f"{path}: request {i}: {name}")
        try:
            spec = json_format.ParseDict(item, requests_pb2.RequestSpec())
        except json_format.ParseError as exc:
            raise CliError(f"{path}: request {i}: {exc}", EXIT_BAD_INPUT) from None
        check_spec(spec, f"{path}: request {i}")
        out.append((key, spec))
    return out


def check_spec(spec: requests_pb2.RequestSpec, where: str) -> None:
    """The server's own rules, before anything is sent: a file with one bad request submits none of them.

    ``org`` may be left out: the server takes it from the applicant's token.
    """
    from scheduler.api import inbound
    from scheduler.errors import InvalidInput

    probe = requests_pb2.RequestSpec()
    probe.CopyFrom(spec)
    probe.org = spec.org or "from-the-token"
    try:
        inbound.request_spec(probe, "spec", None, warn=False)  # the server's response carries the deprecation
    except InvalidInput as exc:
        raise CliError(f"{where}: {exc}; nothing was submitted", EXIT_BAD_INPUT) from None
