"""``create_app(container)``: the FastAPI application of ``flext serve``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI
from fastapi.middleware import Middleware
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from flext_infra._errors import ConfigurationError
from flext_infra.container import Container
from flext_infra.health import readiness
from flext_infra.observability import get_logger
from flext_infra.orchestration import MeltanoProject
from flext_infra.serve._errors import install_error_handlers
from flext_infra.serve._ledger import ledger_router
from flext_infra.serve._metrics import LedgerMetrics, ServeMetrics
from flext_infra.serve._middleware import BodySizeLimitMiddleware, RequestLogMiddleware
from flext_infra.serve._models import ErrorBody, Health, Readiness
from flext_infra.serve._security import (
    ClientRateLimit,
    TokenAuth,
    basic_scheme,
    bearer_scheme,
)
from flext_infra.serve._status import StatusPage, page_data
from flext_infra.settings import FlextSettings, ServeSettings

log = get_logger("flext.serve")

#: Services built when the server starts, so a broken recipe shows at start-up
#: (readiness reports the ones that fail instead of the process dying).
WARM_SERVICES = ("logger", "database", "http_client", "alert_manager", "run_ledger")

#: An incoming X-Request-ID is kept only when it cannot forge or break a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

#: A shorter token is guessable, and the log redactor ignores very short values.
MIN_TOKEN_CHARS = 16


def _valid_request_id(value: str) -> bool:
    return _REQUEST_ID.fullmatch(value) is not None


def check_serve_settings(settings: FlextSettings) -> list[str]:
    """Why ``flext serve`` must not start with these settings (empty when it may)."""
    variable = ServeSettings.variable("token")
    token = settings.serve.token
    if token is None:
        if settings.environment.is_deployed:
            return [
                f"{variable}: required in {settings.environment} "
                "(the ledger and the status page are never served open there)"
            ]
        return []
    if len(token.get_secret_value()) < MIN_TOKEN_CHARS:
        return [f"{variable}: too short (at least {MIN_TOKEN_CHARS} characters)"]
    return []


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def _build(container: Container) -> None:
    for key in WARM_SERVICES:
        if container.is_registered(key):
            found = container.try_resolve(key)
            if found.is_failure:
                log.warning("serve.service_unavailable", service=key, error=str(found.error))


def _dispose(container: Container) -> None:
    try:
        container.dispose()
    except Exception as exc:  # every failed cleanup is named; shutdown goes on
        log.error("serve.container.dispose_failed", error=f"{type(exc).__name__}: {exc}")
        log.info("serve.container.disposed", ok=False)
        return
    log.info("serve.container.disposed", ok=True)


def create_app(container: Container, *, project: MeltanoProject | None = None) -> FastAPI:
    """The ``flext serve`` application over ``container``'s services.

    The container's services are built when the application starts (lifespan)
    and the container is disposed when it stops; the disposal is logged
    (``serve.container.disposed``).

    Args:
        container: A container for the serving environment (``FlextContainer.for_environment``).
        project: The Meltano project whose jobs and schedules are shown.

    Raises:
        ConfigurationError: staging or production without ``FLEXT_SERVE_TOKEN``.
    """
    settings: FlextSettings = container.resolve("settings")
    problems = check_serve_settings(settings)
    if problems:
        raise ConfigurationError(problems)
    serve = settings.serve
    metrics = ServeMetrics()
    metrics.add(LedgerMetrics(container))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("serve.starting", environment=str(settings.environment))
        await run_in_threadpool(_build, container)
        log.info("serve.started", environment=str(settings.environment))
        try:
            yield
        finally:
            log.info("serve.stopping")
            await run_in_threadpool(_dispose, container)

    middleware = [
        Middleware(
            CorrelationIdMiddleware, header_name="X-Request-ID", validator=_valid_request_id
        ),
        Middleware(RequestLogMiddleware, observe=metrics.observe),
        Middleware(BodySizeLimitMiddleware, max_bytes=serve.max_body_bytes),
    ]
    origins = serve.cors_origin_list()
    if origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET"],
                allow_headers=["Authorization", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
            )
        )
    app = FastAPI(
        title="flext serve",
        summary="Health, readiness, metrics and the run ledger of FLEXT Meltano pipelines.",
        version="1",
        lifespan=lifespan,
        middleware=middleware,
        docs_url=None,  # Swagger UI loads scripts from a CDN; the document itself is served
        redoc_url=None,
        responses=_error_responses(413, 500),
    )
    install_error_handlers(app)
    app.state.container = container
    app.state.metrics = metrics

    limit = ClientRateLimit(serve.rate_limit_per_minute)
    protected: list[Any] = []
    page_guard: list[Any] = []
    if serve.token is not None:
        protected = [Depends(limit), Depends(TokenAuth(serve.token)), Depends(bearer_scheme)]
        page_guard = [
            Depends(limit),
            Depends(TokenAuth(serve.token, browser=True)),
            Depends(bearer_scheme),
            Depends(basic_scheme),
        ]
    else:
        protected = page_guard = [Depends(limit)]
    if serve.status_page_open:
        page_guard = [Depends(limit)]
    guarded = _error_responses(401, 429) if serve.token is not None else _error_responses(429)

    @app.get("/health", response_model=Health, tags=["probes"])
    async def health() -> Health:
        """Liveness: the process answers and its container is up."""
        return Health()

    def ready_now() -> Readiness:
        checks = readiness(container, api_timeout=serve.ready_timeout)
        return Readiness(
            status="ready" if all(c.ok for c in checks) else "not_ready",
            environment=str(settings.environment),
            checks=[c.to_dict() for c in checks],  # type: ignore[misc]
        )

    @app.get(
        "/ready",
        response_model=Readiness,
        tags=["probes"],
        responses={503: {"model": Readiness, "description": "A check is unhealthy."}},
    )
    def ready() -> JSONResponse:
        """Readiness: the database, the API (one request), the breakers and the alert channels."""
        answer = ready_now()
        return JSONResponse(
            answer.model_dump(), status_code=200 if answer.status == "ready" else 503
        )

    metrics_deps = protected if serve.metrics_require_token else []

    @app.get(
        "/metrics",
        tags=["probes"],
        dependencies=metrics_deps,
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition."},
                   **(guarded if metrics_deps else {})},
    )  # fmt: skip
    def prometheus_metrics() -> Response:
        """Prometheus text exposition: run metrics from the ledger and this process's own."""
        return Response(metrics.render(), media_type=metrics.content_type)

    app.include_router(ledger_router(container, project, protected, guarded))

    page = StatusPage()

    @app.get(
        "/",
        tags=["status"],
        dependencies=page_guard,
        response_class=HTMLResponse,
        responses={200: {"content": {"text/html": {}}, "description": "The status page."},
                   **(guarded if serve.token is not None and not serve.status_page_open
                      else _error_responses(429))},
    )  # fmt: skip
    def status_page() -> HTMLResponse:
        """A status page for people: jobs, their last runs, records per stream, readiness."""
        found = container.try_resolve("run_ledger")
        data = page_data(
            environment=str(settings.environment),
            ready=ready_now(),
            project=project,
            ledger=found.unwrap() if found.is_success else None,
        )
        return HTMLResponse(page.render(data))

    return app
