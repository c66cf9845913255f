"""ASGI middleware: one log line per request, the request-size limit, and last-resort errors.

Written as plain ASGI callables rather than Starlette's ``BaseHTTPMiddleware``,
which buffers streaming bodies and runs the app in another task (contextvars
bound there would not reach the log line). The request id itself comes from
asgi-correlation-id, which sits outside these and echoes ``X-Request-ID``.

Why a size limit of our own: Starlette's ``RequestBodyLimitMiddleware`` (and
FastAPI's ``max_body_size``, which installs it outside every user middleware)
answers a plain-text 413, not our JSON error body, and for a route that never
reads its body it runs the route first and swaps the response afterwards; it
also sits outside the request log. This one refuses a declared
``Content-Length`` above the limit before the route runs, and counts the bytes
of a chunked body as they arrive.
"""

from __future__ import annotations

import json
import time
from typing import Any

from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flext_infra.observability import get_logger, log_context

log = get_logger("flext.serve")


def error_body(code: str, message: str) -> dict[str, Any]:
    """The body of every error response (see ``ErrorBody``)."""
    return {"error": {"code": code, "message": message, "request_id": correlation_id.get()}}


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Answer with a JSON error (used where no route runs: too large, crashed)."""
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def route_of(scope: Scope) -> str:
    """The matched route's template (``/runs/{run_id}``), never the raw path (metric labels)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path is not None else "unmatched"


class RequestLogMiddleware:
    """Logs ``serve.request`` once per request, and turns an unhandled error into a JSON 500.

    The line carries method, path, route, status, duration, client and request
    id; the request id is also bound to every other line logged while the
    request runs. ``observe(method, route, status, seconds)`` feeds metrics.
    """

    def __init__(self, app: ASGIApp, observe: Any = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
            await send(message)

        client = scope.get("client")
        request_id = correlation_id.get()
        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_wrapper)
            except Exception as exc:
                # The traceback goes to the log (redacted), never to the client.
                log.error(
                    "serve.request.crashed", path=scope.get("path"), error=type(exc).__name__,
                    exc_info=True,
                )  # fmt: skip
                status = 500
                if not response_started:
                    await send_error(send, 500, "internal_error", "internal server error")
            finally:
                duration = time.perf_counter() - started
                route = route_of(scope)
                log.info(
                    "serve.request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    route=route,
                    status=status,
                    duration_ms=round(duration * 1000, 3),
                    client=f"{client[0]}:{client[1]}" if client else None,
                    request_id=request_id,
                )
                if self.observe is not None:
                    self.observe(scope.get("method", ""), route, status, duration)


class _TooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Answers 413 for a request body larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await send_error(send, 400, "bad_request", "invalid Content-Length")
                return
            if too_large:
                await self._refuse(send)
                return
        seen = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, send_wrapper)
        except _TooLarge:
            if not response_started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        log.warning("serve.request.too_large", max_bytes=self.max_bytes)
        await send_error(
            send, 413, "request_too_large", f"request body larger than {self.max_bytes} bytes",
            ((b"connection", b"close"),),
        )  # fmt: skip
