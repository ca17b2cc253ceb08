"""TLS for everyone and mTLS for cluster agents, by configuration: an agent's certificate must name its cluster."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

pytest.importorskip("cryptography", reason="certificates are made with cryptography (installed with the k8s extra)")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from scheduler.api.gen.allmende.v1 import inventory_pb2_grpc as inv_grpc
from scheduler.api.gen.allmende.v1 import ledger_pb2 as led
from scheduler.api.gen.allmende.v1 import ledger_pb2_grpc as led_grpc
from scheduler.domain import Role
from tests.scheduler.api.harness import InProcessServer, auth
from tests.scheduler.api.rpcs import code_of

Key = ec.EllipticCurvePrivateKey


def _cert(name: str, key: Key, issuer: tuple[x509.Name, Key] | None, *, ca: bool = False, server: bool = False) -> (
        x509.Certificate):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signer = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: Key) -> tuple[Path, Path]:
    crt, pem = path.with_suffix(".crt"), path.with_suffix(".key")
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("allmende test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    out = {"ca": _write(root / "ca", ca, ca_key)}
    for name, server in (("server", True), ("jsc", False), ("other", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        out[name] = _write(root / name, _cert(name, key, issuer, server=server), key)
    return out


@pytest.fixture(scope="module")
def server(pki: dict[str, tuple[Path, Path]]) -> Iterator[InProcessServer]:
    s = InProcessServer(tls_cert_file=pki["server"][0], tls_key_file=pki["server"][1], client_ca_file=pki["ca"][0],
                        agent_port=0)
    yield s
    s.close()


def channel(server: InProcessServer, pki: dict[str, tuple[Path, Path]], client: str | None = None) -> grpc.Channel:
    """The main port without a client certificate; the agents' mTLS port with one."""
    cert, key = pki[client] if client else (None, None)
    address = f"127.0.0.1:{server.running.agent_port}" if client else server.address
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"][0].read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    return grpc.secure_channel(address, creds, options=(("grpc.ssl_target_name_override", "localhost"),))


@pytest.mark.parametrize(
    ("client_cert", "want"),
    [
        pytest.param(None, grpc.StatusCode.PERMISSION_DENIED, id="an agent on the main port, without a certificate, "
                                                                 "is refused"),
        pytest.param("other", grpc.StatusCode.PERMISSION_DENIED, id="an agent with another cluster's certificate "
                                                                    "is refused"),
        pytest.param("jsc", grpc.StatusCode.OK, id="an agent with its own cluster's certificate reports"),
    ],
)
def test_cluster_agents_need_the_certificate_of_their_cluster(
    server: InProcessServer, pki: dict[str, tuple[Path, Path]], client_cert: str | None, want: grpc.StatusCode
) -> None:
    operator = server.token(Role.OPERATOR)
    stub = inv_grpc.InventoryServiceStub(channel(server, pki))
    register = inv.RegisterClusterRequest(cluster_id="jsc", country="DE",
                                          gpus=[inv.GpuPool(gpu_type="H100", count=8, tdp_watts=700)])
    stub.RegisterCluster(register, metadata=auth(operator))
    agent = server.token(Role.CLUSTER_AGENT, cluster="jsc")
    as_agent = inv_grpc.InventoryServiceStub(channel(server, pki, client_cert))
    beat = inv.InventoryReport(cluster_id="jsc", heartbeat=inv.Heartbeat())
    assert code_of(lambda: as_agent.ReportInventory(iter([beat]), metadata=auth(agent))) == want


def test_everyone_else_needs_only_tls(server: InProcessServer, pki: dict[str, tuple[Path, Path]]) -> None:
    public = led_grpc.LedgerServiceStub(channel(server, pki))
    assert list(public.ListPublishedRounds(led.ListPublishedRoundsRequest()).entries) == []
    creds = grpc.ssl_channel_credentials(root_certificates=pki["ca"][0].read_bytes())
    no_cert = grpc.secure_channel(f"127.0.0.1:{server.running.agent_port}", creds,
                                  options=(("grpc.ssl_target_name_override", "localhost"),))
    assert code_of(lambda: led_grpc.LedgerServiceStub(no_cert).ListPublishedRounds(
        led.ListPublishedRoundsRequest(), timeout=5)) == grpc.StatusCode.UNAVAILABLE, "the agents' port needs a cert"
    plain = led_grpc.LedgerServiceStub(grpc.insecure_channel(server.address))
    assert code_of(lambda: plain.ListPublishedRounds(led.ListPublishedRoundsRequest(), timeout=5)) == (
        grpc.StatusCode.UNAVAILABLE)
