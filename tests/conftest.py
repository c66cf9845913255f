"""Shared test helpers."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._seaweedfs import S3Server, seaweedfs

#: The one bucket of a test session; each test works under its own prefix.
S3_TEST_BUCKET = "flext-tests"

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C stops the test processes, whatever shell started pytest.

    A non-interactive shell starts a background command (``make test &``, a CI
    runner's ``cmd &``) with SIGINT ignored, and every child inherits that: a
    server a test stops with SIGINT would never stop. With a handler installed
    here, children start with SIGINT at its default again (exec resets
    handled signals, not ignored ones), as they would from a terminal.
    """
    del config
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def meltano_installed() -> None:
    """`meltano install` of this project (plugin venvs under .meltano, built with uv), once."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "meltano"), "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def isolate_from_flext_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start in an empty directory with no FLEXT_* or AWS_* settings (FLEXT_TEST_* kept).

    Folders whose tests read settings make it autouse in their conftest:
    ``clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)``.
    """
    for name in list(os.environ):
        if name.startswith("AWS_") or (
            name.startswith("FLEXT_") and not name.startswith("FLEXT_TEST_")
        ):
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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 gateway on loopback, started once per session (see tests/_seaweedfs.py)."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        server.make_bucket(S3_TEST_BUCKET)
        yield server


@pytest.fixture
def s3_root(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh ``s3://`` prefix for this test in the session's bucket."""
    name = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:60]
    return f"s3://{S3_TEST_BUCKET}/{name}-{uuid.uuid4().hex[:8]}"


#: The Redis every test shares (``.ci/run`` starts it); each test has its own key prefix.
REDIS_URL = os.environ.get("FLEXT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards (never a flush)."""
    import redis

    prefix = f"flext-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
