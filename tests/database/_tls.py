"""Self-signed certificates, ADB-style wallet directories and a TLS server on loopback."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

WALLET_PASSWORD = "wallet-pw-123"


def _self_signed(common_name: str) -> tuple[Any, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_wallet(directory: Path, *, encrypted: bool = True) -> Path:
    """A wallet directory laid out like an Autonomous Database download (ewallet.pem, tnsnames)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = _self_signed("adb.example.com")
    encryption: Any = (
        serialization.BestAvailableEncryption(WALLET_PASSWORD.encode())
        if encrypted
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ) + cert.public_bytes(serialization.Encoding.PEM)
    (directory / "ewallet.pem").write_bytes(pem)
    (directory / "tnsnames.ora").write_text(
        "myadb_high = (description=(address=(protocol=tcps)(port=1522)"
        "(host=adb.example.com))(connect_data=(service_name=x_myadb_high.adb.oraclecloud.com)))\n"
    )
    return directory


@contextlib.contextmanager
def tls_server(workdir: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 with a certificate no wallet here trusts; yields its port."""
    key, cert = _self_signed("db.local")
    pem = workdir / "server.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(5)


@contextlib.contextmanager
def hang_up_server() -> Iterator[int]:
    """A plain TCP server that accepts and immediately closes; yields its port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(5)
