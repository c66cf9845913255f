"""Self-signed certificates, ADB-style wallet directories and a TLS server on loopback."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.conftest import self_signed

WALLET_PASSWORD = "wallet-pw-123"


def make_wallet(directory: Path, *, encrypted: bool = True) -> Path:
    """A wallet directory laid out like an Autonomous Database download (ewallet.pem, tnsnames)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = self_signed("adb.example.com")
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
    key, cert = self_signed("db.local")
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
