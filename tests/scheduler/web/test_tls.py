"""Over TLS the console serves HTTPS with the gRPC server's certificate, and its session cookie is Secure."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import ssl
from pathlib import Path

import httpx
import pytest

pytest.importorskip("cryptography", reason="certificates are made with cryptography (installed with the k8s extra)")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scheduler.api.server import start_console
from scheduler.service import Service
from scheduler.settings import Settings
from scheduler.store import open_store


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = folder / "server.crt", folder / "server.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def test_over_tls_the_console_speaks_https_and_its_cookie_is_secure(tmp_path: Path) -> None:
    crt, key = self_signed(tmp_path)
    settings = Settings(port=0, http_port=0, tls_cert_file=crt, tls_key_file=key, solver_executor="thread")
    store = open_store("memory://")

    async def story() -> tuple[int, str, str]:
        service = Service(store, settings)
        console = await start_console(service, settings)
        try:
            trust = ssl.create_default_context(cafile=str(crt))
            async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{console.port}", verify=trust) as client:
                page = await client.get("/login")
                assert re.search(r'name="csrf" value="[^"]+"', page.text)
                return page.status_code, page.headers["set-cookie"].lower(), page.headers["content-security-policy"]
        finally:
            await console.stop()
            await service.close()

    try:
        status, cookie, csp = asyncio.run(story())
    finally:
        store.close()
    assert status == 200 and "default-src 'none'" in csp
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert cookie.startswith("__host-"), "a __Host- cookie: only this host, on /, over TLS"
