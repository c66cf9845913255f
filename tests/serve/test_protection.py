"""The token, the rate limit, the size limit, CORS and error bodies of ``flext serve``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from flext_infra.container import Container
from flext_infra.environments import configure_for_testing
from flext_infra.serve import create_app
from flext_infra.settings import load_settings
from tests.serve.conftest import StartServe

TOKEN = "serve-token-5f1c9e7a"
SECRETS = {
    "FLEXT_SERVE_TOKEN": TOKEN,
    "FLEXT_API_PASSWORD": "api-password-0b7d2",
    "FLEXT_API_TOKEN": "api-bearer-91ac44",
    "FLEXT_ALERT_SMTP_PASSWORD": "smtp-password-77e1",
    "FLEXT_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hooks/webhook-secret-3c2d",
}


AppFactory = Callable[..., FastAPI]


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_protected_pages_answer_401_without_the_token_and_200_with_it(serve: StartServe) -> None:
    """No token or a wrong one: 401 and WWW-Authenticate; the token (bearer or Basic): 200."""
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN})
    missing = server.get("/")
    wrong = server.get("/", headers=_bearer("not-the-token"))
    right = server.get("/", headers=_bearer())
    basic = base64.b64encode(f"ops:{TOKEN}".encode()).decode()
    browser = server.get("/", headers={"Authorization": f"Basic {basic}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    challenges = missing.headers.get_list("WWW-Authenticate")
    realm = 'Basic realm="flext serve", charset="UTF-8"'
    assert challenges == ['Bearer realm="flext serve"', realm]
    assert 'error="invalid_token"' in wrong.headers.get_list("WWW-Authenticate")[0]
    assert missing.json()["error"]["code"] == "unauthorized"
    assert right.status_code == 200 and "text/html" in right.headers["content-type"]
    assert browser.status_code == 200
    for path in ("/jobs", "/runs", "/runs/some-run"):
        assert server.get(path).status_code == 401, path
        assert server.get(path, headers=_bearer("nope")).status_code == 401, path
    assert server.get("/jobs", headers=_bearer()).status_code == 200
    assert server.get("/runs", headers=_bearer()).status_code == 200
    assert server.get("/runs/some-run", headers=_bearer()).status_code == 404
    # Probes stay open for the orchestrator.
    assert server.get("/health").status_code == 200
    assert server.get("/metrics").status_code == 200
    rejected = [e for e in server.logs() if e["event"] == "serve.auth.rejected"]
    assert [e["reason"] for e in rejected][:2] == ["missing", "invalid"]
    assert len(rejected) == 8 and all(e["client"] == "127.0.0.1" for e in rejected)
    assert TOKEN not in server.raw_log() and "not-the-token" not in server.raw_log()


def test_metrics_can_be_protected_by_a_setting(serve: StartServe) -> None:
    """FLEXT_SERVE_METRICS_REQUIRE_TOKEN puts /metrics behind the token."""
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN, "FLEXT_SERVE_METRICS_REQUIRE_TOKEN": "true"})
    assert server.get("/metrics").status_code == 401
    assert server.get("/metrics", headers=_bearer()).status_code == 200


def test_the_status_page_can_be_opened_by_a_setting(serve: StartServe) -> None:
    """FLEXT_SERVE_STATUS_PAGE_OPEN serves / without the token."""
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN, "FLEXT_SERVE_STATUS_PAGE_OPEN": "true"})
    assert server.get("/").status_code == 200


def test_a_client_over_the_rate_limit_gets_429_with_retry_after(serve: StartServe) -> None:
    """The 4th protected request in a minute from one client answers 429 with Retry-After."""
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN, "FLEXT_SERVE_RATE_LIMIT_PER_MINUTE": "3"})
    codes = [server.get("/", headers=_bearer()).status_code for _ in range(3)]
    limited = server.get("/", headers=_bearer())
    guessing = server.get("/", headers=_bearer("guess"))
    assert codes == [200, 200, 200]
    assert limited.status_code == 429 and guessing.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"
    assert server.get("/health").status_code == 200, "probes are not rate limited"
    assert [e["client"] for e in server.logs() if e["event"] == "serve.rate_limited"]


def test_a_request_body_over_the_limit_is_refused_with_413(serve: StartServe) -> None:
    """A declared body larger than FLEXT_SERVE_MAX_BODY_BYTES answers 413 before it is read."""
    server = serve({"FLEXT_SERVE_MAX_BODY_BYTES": "1024"})
    response = httpx.post(server.url + "/health", content=b"x" * 4096, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    small = httpx.post(server.url + "/health", content=b"x" * 10, timeout=30)
    assert small.status_code == 405 and small.json()["error"]["code"] == "method_not_allowed"


#: Every route, and requests that carry a secret where an echo would leak it.
PROBED = (
    "/",
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/jobs",
    "/runs",
    f"/runs/{TOKEN}",
    f"/runs?job={TOKEN}",
    f"/runs?status={TOKEN}",
    f"/runs?limit={TOKEN}",
    f"/no-such-page-{TOKEN}",
    f"/?q={TOKEN}",
    "/ready?x=api-password-0b7d2",
)


def test_no_response_contains_a_known_secret(serve: StartServe) -> None:
    """Secrets set in the environment never appear in any body or header, whatever is asked."""
    server = serve({**SECRETS, "FLEXT_API_BASE_URL": "http://127.0.0.1:9"})
    secret = list(SECRETS.values())
    responses = []
    for headers in ({}, _bearer(), _bearer("wrong")):
        for path in PROBED:
            responses.append(server.get(path, headers=headers))
    responses.append(httpx.post(server.url + "/", content=TOKEN.encode() * 10_000, timeout=30))
    assert {r.status_code for r in responses} >= {200, 401, 404, 413, 422, 503}
    for response in responses:
        text = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
        leaked = [s for s in secret if s in text]
        assert not leaked, (response.request.url.path, response.status_code, leaked)
        assert "Traceback" not in text
    for value in secret:
        assert value not in server.raw_log()


# ----------------------------------------------------------------- in-process app
@pytest.fixture
def app_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """Build ``create_app`` over a test container with FLEXT_* variables given."""
    containers: list[Container] = []

    def build(**env: str) -> FastAPI:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        container = configure_for_testing(load_settings(environment="test"))
        containers.append(container)
        return create_app(container)

    yield build
    for container in containers:
        container.dispose()


def test_cors_is_off_unless_origins_are_configured(app_factory: AppFactory) -> None:
    """No CORS header by default; the configured origin gets one, another origin does not."""
    origin = "https://ops.example.org"
    with TestClient(app_factory()) as client:
        plain = client.get("/health", headers={"Origin": origin})
    assert "access-control-allow-origin" not in plain.headers
    with TestClient(app_factory(FLEXT_SERVE_CORS_ORIGINS=origin)) as client:
        allowed = client.get("/health", headers={"Origin": origin})
        other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-origin" not in other.headers


def test_an_unhandled_error_is_a_json_500_without_trace_or_secret(app_factory: AppFactory) -> None:
    """A route that crashes with a secret in its message answers a bare JSON 500."""
    app = app_factory(FLEXT_SERVE_TOKEN=TOKEN)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"failed while holding {TOKEN}")

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert TOKEN not in response.text and "RuntimeError" not in response.text
    assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]


def test_a_streamed_body_is_cut_at_the_limit(app_factory: AppFactory) -> None:
    """A chunked body (no Content-Length) read by a route is refused with 413 past the limit."""
    app = app_factory(FLEXT_SERVE_MAX_BODY_BYTES="100")

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    def chunks(n: int) -> Iterator[bytes]:
        for _ in range(n):
            yield b"y" * 40

    with TestClient(app) as client:
        ok = client.post("/echo", content=chunks(2))
        refused = client.post("/echo", content=chunks(5))
    assert ok.status_code == 200 and ok.json() == {"size": 80}
    assert refused.status_code == 413
