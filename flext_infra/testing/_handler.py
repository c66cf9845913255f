"""The HTTP side of the sample API: the threaded server and the request handler.

The handler serves an :class:`ApiBackend` (``SampleApi`` is one): it reads the
request, asks the backend for the fault, the credential check and the page,
and writes the answer. It does not know the class that serves it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import socket
import sys
import threading
import time
from collections.abc import Mapping
from email.message import Message
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from flext_infra.testing._faults import EXEMPT, Faults, RequestLog, RequestRecord, Verdict
from flext_infra.testing._graphql import GRAPHQL_PATH, GraphqlEndpoint
from flext_infra.testing._pages import ENCODER, ApiError, Rendered


class ApiBackend(Protocol):
    """What the :class:`Handler` asks of the API it serves."""

    requests: RequestLog
    graphql: GraphqlEndpoint

    @property
    def faults(self) -> Faults:
        """The fault settings in force."""
        ...

    @property
    def api_key_name(self) -> str | None:
        """The API key's parameter name, removed from the query before filtering."""
        ...

    @property
    def token_ttl_s(self) -> float:
        """The lifetime of issued OAuth2 tokens."""
        ...

    @property
    def latency_s(self) -> float:
        """How long every answer is held back (a remote API's latency)."""
        ...

    def pick_fault(self, path: str, client: str, query: str) -> Verdict:
        """The fault the request for ``path`` (and ``query``) from ``client`` gets."""
        ...

    def authorized(self, headers: Message, query: Mapping[str, str]) -> bool:
        """Whether the request's credential is accepted."""
        ...

    def client_allowed(self, client_id: str, client_secret: str) -> bool:
        """Whether OAuth2 client credentials are valid."""
        ...

    def issue_token(self) -> str:
        """A new OAuth2 access token."""
        ...

    def render(self, path: str, query: dict[str, str]) -> Rendered:
        """The answer to a GET."""
        ...

    def read_ahead(self, path: str, query: dict[str, str]) -> None:
        """Start rendering the page a client reads next."""
        ...


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away (dropped on purpose, or after a timeout)."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_open_connections(self) -> None:
        """Cut every keep-alive connection so its handler thread ends."""
        with self.sockets_lock:
            open_now = list(self.open_sockets)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`SampleApi` it was made for."""

    api: ApiBackend
    _pending: tuple[str, str, str, str | None, float, str] = ("", "", "", None, 0.0, "")
    protocol_version = "HTTP/1.1"
    server_version = "FlextSampleApi/1.0"
    sys_version = ""
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to each keep-alive answer.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's access log (it writes to stderr on every request)."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _client(self) -> str:
        """Who is asking, for the per-client rate limit: a digest of the credential, or the address.

        Only a digest is kept: the request log must never hold a credential.
        """
        api = self.api
        key_name = api.api_key_name
        credential = self.headers.get("Authorization") or (
            self.headers.get(key_name) if key_name else None
        )
        who = credential or f"addr:{self.client_address[0]}"
        return hashlib.blake2b(who.encode(), digest_size=6).hexdigest()

    def _handle(self, method: str) -> None:
        api = self.api
        received = time.time()
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        client = self._client()
        verdict = api.pick_fault(path, client, split.query)
        fault = verdict.fault
        self._pending = (method, path, split.query, fault, received, client)
        latency = api.latency_s
        if latency > 0:
            # Held back after the decision, as a remote server's answer is: the
            # rate limit counts a request when it arrives.
            time.sleep(latency)
        try:
            if fault is not None and fault.startswith("status:"):
                status = int(fault.split(":", 1)[1])
                self._send_json(status, {"detail": HTTPStatus(status).phrase}, verdict.headers)
                return
            slow = api.faults.slow_s
            if slow > 0 and not path.startswith(EXEMPT):
                time.sleep(slow)
            if method == "POST" and path == "/oauth/token":
                self._token(body)
                return
            if path != "/health" and not api.authorized(self.headers, query):
                self._send_json(
                    401,
                    {"detail": "Authentication credentials were not provided."},
                    {"WWW-Authenticate": 'Basic realm="sample"'},
                )
                return
            if path == GRAPHQL_PATH:
                answer = api.graphql.answer(method, body)
                if fault is not None:  # drop or truncate the body: logged as that
                    self._send_broken(ENCODER.encode(answer.payload), fault)
                    return
                if answer.fault is not None:
                    self._pending = (method, path, split.query, answer.fault, received, client)
                self._send_json(answer.status, answer.payload, answer.headers)
                return
            if method in ("POST", "PUT", "DELETE"):
                if path != "/echo":
                    raise ApiError(405, "Method not allowed.")
                self._send_json(201 if method == "POST" else 200, {"received_bytes": len(body)})
                return
            if api.api_key_name is not None:
                query.pop(api.api_key_name, None)  # a credential, not a filter
            rendered = api.render(path, query)
            extra = dict(rendered.headers)
            extra.update(verdict.headers)  # rate-limit headers on a normal answer
            if fault is not None:
                self._send_broken(rendered.body, fault)
                return
            self._send_rendered(rendered, extra, head=method == "HEAD")
            if rendered.next_query is not None:
                api.read_ahead(path, rendered.next_query)
        except ApiError as exc:
            self._send_json(exc.status, {"detail": exc.detail})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_response(self, code: int, message: str | None = None) -> None:
        """Log the request before its answer leaves, so a test never sees a stale log."""
        method, path, query, fault, received, client = self._pending
        self.api.requests.append(
            RequestRecord(
                method=method,
                path=path,
                query=query,
                status=code,
                fault=fault,
                if_none_match=self.headers.get("If-None-Match"),
                if_modified_since=self.headers.get("If-Modified-Since"),
                auth_scheme=(self.headers.get("Authorization") or " ").split(" ", 1)[0] or None,
                at=time.time(),
                received=received,
                client=client,
                headers={
                    k.lower(): v
                    for k, v in self.headers.items()
                    if k.lower() in ("user-agent", "accept", "content-type", "accept-encoding")
                },
            )
        )
        super().send_response(code, message)

    def _token(self, body: bytes) -> int:
        api = self.api
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            with contextlib.suppress(binascii.Error, ValueError):
                client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            self._send_json(400, {"error": "unsupported_grant_type"})
            return 400
        if not api.client_allowed(client_id or "", client_secret or ""):
            self._send_json(401, {"error": "invalid_client"})
            return 401
        token = api.issue_token()
        self._send_json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": int(api.token_ttl_s)},
            {"Cache-Control": "no-store"},
        )
        return 200

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = ENCODER.encode(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_rendered(self, rendered: Rendered, extra: dict[str, str], *, head: bool) -> int:
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = (
                rendered.etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
            )
        elif ims is not None and rendered.last_modified is not None:
            with contextlib.suppress(TypeError, ValueError):
                not_modified = parsedate_to_datetime(ims) >= parsedate_to_datetime(
                    rendered.last_modified
                )
        status = 304 if not_modified else 200
        self.send_response(status)
        self.send_header("ETag", rendered.etag)
        if rendered.last_modified:
            self.send_header("Last-Modified", rendered.last_modified)
        self.send_header("Cache-Control", "no-cache")
        for k, v in extra.items():
            self.send_header(k, v)
        if status == 304:
            self.end_headers()
            return 304
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(rendered.body)))
        self.end_headers()
        if not head:
            self.wfile.write(rendered.body)
        return 200

    def _send_broken(self, body: bytes, kind: str) -> None:
        """Send half a body, then cut the connection (``drop``) or stop a chunked body."""
        half = body[: max(1, len(body) // 2)]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if kind == "drop":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(half)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
