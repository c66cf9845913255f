"""Errors as JSON bodies with a code: no stack trace, no echo of what was sent.

FastAPI's default 422 body repeats the offending input, which could be a
token pasted into the wrong parameter; ours names the parameter and the rule only.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flext_infra.serve._middleware import error_body


class ServeError(Exception):
    """An answer other than success, raised by a route or a dependency.

    Args:
        status: The HTTP status.
        code: The stable error code (``unauthorized``, ``rate_limited``, ``not_found``).
        message: For a person; never a secret.
        headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``), as
            pairs: a name may repeat (one ``WWW-Authenticate`` line per challenge).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def _response(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> JSONResponse:
    response = JSONResponse(error_body(code, message), status_code=status)
    for name, value in headers or []:
        response.headers.append(name, value)
    return response


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _serve_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServeError)
    return _response(exc.status, exc.code, exc.message, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        message = HTTPStatus(exc.status_code).phrase
    except ValueError:
        message = "error"
    headers = list((exc.headers or {}).items())
    return _response(exc.status_code, _code(exc.status_code), message, headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return _response(422, "invalid_request", "; ".join(problems) or "invalid request")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the JSON error body."""
    app.add_exception_handler(ServeError, _serve_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
