"""Shared test helpers."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import Any

import pytest


def isolate_from_flext_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start in an empty directory with no FLEXT_* settings (live-test FLEXT_TEST_* kept).

    Folders whose tests read settings make it autouse in their conftest:
    ``clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)``.
    """
    for name in list(os.environ):
        if name.startswith("FLEXT_") and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def self_signed(common_name: str, *, loopback: bool = False) -> tuple[Any, Any]:
    """A private key and a self-signed certificate (a day long) for ``common_name``.

    ``loopback`` adds 127.0.0.1 and localhost as subject names and marks it a CA,
    so a client can trust it as its own bundle.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if loopback:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return key, builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert path, key path)."""
    from cryptography.hazmat.primitives import serialization

    key, cert = self_signed("127.0.0.1", loopback=True)
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
