"""Real loopback servers for the alert channels: an HTTP receiver and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import isolate_from_flext_environment

clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)


@dataclass
class Receiver:
    """A loopback HTTP server that records POSTed JSON and answers with scripted statuses."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200


def _serve(receiver_holder: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_holder[0]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.paths.append(self.path)
            receiver.bodies.append(json.loads(body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 recording every POST body."""
    holder: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _serve(holder))
    holder.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook/T0KEN-SECRET"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_url() -> str:
    """An http URL on loopback where nothing listens (a channel that is down)."""
    return f"http://127.0.0.1:{free_port()}/down"


@dataclass
class SmtpServer:
    """A real aiosmtpd server on loopback and the messages it received."""

    host: str
    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


@pytest.fixture
def smtp_server(tls_cert: tuple[Path, Path]) -> Iterator[Any]:
    """Start aiosmtpd servers: ``smtp_server(mode, users)`` with mode plain, starttls or ssl."""
    import ssl
    from email import message_from_bytes
    from email.policy import default as default_policy

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    controllers: list[Any] = []

    def start(mode: str = "plain", users: dict[str, str] | None = None) -> SmtpServer:
        server = SmtpServer("127.0.0.1", free_port())

        class Handler:
            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                server.messages.append(message_from_bytes(envelope.content, policy=default_policy))
                return "250 Message accepted for delivery"

        def authenticator(
            srv: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            if isinstance(data, LoginPassword):
                user, password = data.login.decode(), data.password.decode()
                if users is not None and users.get(user) == password:
                    server.logins.append(user)
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls_cert)
        kwargs: dict[str, Any] = {}
        if users is not None:
            kwargs["authenticator"] = authenticator
            # Implicit TLS is invisible to aiosmtpd (asyncio wraps the socket), so it
            # only advertises AUTH there when not told to require STARTTLS first.
            kwargs["auth_require_tls"] = mode == "starttls"
        if mode == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif mode == "ssl":
            kwargs.update(ssl_context=context)
        controller = Controller(Handler(), hostname=server.host, port=server.port, **kwargs)
        controller.start()
        controllers.append(controller)
        return server

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()
