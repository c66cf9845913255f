"""``flext serve`` as a real uvicorn process: probes, request ids, logs, refusal, SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx

from flext_infra.testing import SampleApi
from tests.serve.conftest import FLEXT, REPO, StartServe


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_as_a_uvicorn_process(serve: StartServe) -> None:
    """/health answers 200 {"status": "ok"} from a real uvicorn process on loopback."""
    server = serve()
    response = server.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert f"Started server process [{server.proc.pid}]" in [e["event"] for e in server.logs()]


def test_each_request_is_logged_once_with_its_request_id_in_and_out(serve: StartServe) -> None:
    """A given X-Request-ID comes back and is on the one log line; a missing one is made."""
    server = serve()
    given = uuid.uuid4().hex
    echoed = server.get("/health", headers={"X-Request-ID": given})
    made = server.get("/health")
    assert echoed.headers["X-Request-ID"] == given
    assert made.headers["X-Request-ID"] and made.headers["X-Request-ID"] != given
    line = server.wait_log("serve.request", request_id=given)
    server.wait_log("serve.request", request_id=made.headers["X-Request-ID"])
    lines = [e for e in server.logs() if e["event"] == "serve.request"]
    assert len([e for e in lines if e["request_id"] == given]) == 1
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert line["duration_ms"] >= 0 and line["client"].startswith("127.0.0.1:")


def test_an_unsafe_request_id_is_replaced(serve: StartServe) -> None:
    """An X-Request-ID with characters that could forge log lines is replaced by a new id."""
    server = serve()
    response = server.get("/health", headers={"X-Request-ID": "evil\tid with spaces"})
    assert response.headers["X-Request-ID"] != "evil\tid with spaces"


def test_ready_is_200_with_a_healthy_database_and_a_reachable_api(serve: StartServe) -> None:
    """/ready answers 200 with one entry per check when SQLite and the sample API answer."""
    with SampleApi(records=3) as api:
        server = serve({"FLEXT_API_BASE_URL": api.base_url})
        response = server.get("/ready")
        probes = len(api.requests)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["environment"] == "test"
    checks = {c["name"]: c for c in body["checks"]}
    assert set(checks) == {"database", "api", "breakers", "alert:log", "alert:recording"}
    assert all(c["status"] == "healthy" for c in checks.values())
    assert all(c["latency_ms"] >= 0 for c in checks.values())
    assert "sqlite" in checks["database"]["detail"]
    assert probes == 1, "the API check sends exactly one request"


def test_ready_is_503_naming_the_api_when_it_is_down(serve: StartServe) -> None:
    """An API that refuses connections makes /ready 503 with the api check unhealthy."""
    server = serve({"FLEXT_API_BASE_URL": f"http://127.0.0.1:{_closed_port()}"})
    response = server.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["api"]["status"] == "unhealthy"
    assert checks["database"]["status"] == "healthy"


def test_ready_is_503_naming_the_breaker_when_it_is_open(serve: StartServe) -> None:
    """Once the API's failures open its circuit breaker, /ready names the breakers check."""
    with SampleApi(records=3) as api:
        api.set_faults(outage=True, outage_status=503)
        server = serve(
            {
                "FLEXT_API_BASE_URL": api.base_url,
                "FLEXT_API_BREAKER_MIN_CALLS": "2",
                "FLEXT_API_BREAKER_FAILURE_RATIO": "0.5",
            }
        )
        first = server.get("/ready").json()
        second = server.get("/ready")
        third = server.get("/ready")
        sent = len(api.requests)
    assert {c["name"]: c["status"] for c in first["checks"]}["api"] == "unhealthy"
    assert second.status_code == 503
    checks = {c["name"]: c for c in second.json()["checks"]}
    assert checks["breakers"]["status"] == "unhealthy"
    assert "circuit open" in checks["breakers"]["detail"]
    # While it is open, the probe fails fast: nothing more reaches the API.
    assert third.status_code == 503 and sent == 2


def test_staging_and_production_refuse_to_start_without_a_token(tmp_path: object) -> None:
    """flext serve --env staging (or production) without FLEXT_SERVE_TOKEN, or with a short
    one, exits 3 and says why."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXT_")}
    for name in ("staging", "production"):
        done = subprocess.run(
            [FLEXT, "serve", "--env", name, "--port", "0", "--project-root", str(REPO)],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 3, done.stderr
        assert "FLEXT_SERVE_TOKEN" in done.stderr and name in done.stderr
    short = subprocess.run(
        [FLEXT, "serve", "--env", "staging", "--port", "0", "--project-root", str(REPO)],
        capture_output=True, text=True, env={**env, "FLEXT_SERVE_TOKEN": "abc12345"},
        timeout=60, check=False,
    )  # fmt: skip
    assert short.returncode == 3 and "too short" in short.stderr
    assert "abc12345" not in short.stderr


def test_sigterm_lets_in_flight_requests_finish_then_disposes_the_container(
    serve: StartServe,
) -> None:
    """SIGTERM during a slow /ready: the request completes, the container is disposed and logged,
    and the process ends as terminated by the signal."""
    with SampleApi(records=3) as api:
        api.set_faults(slow_s=1.5)
        server = serve({"FLEXT_API_BASE_URL": api.base_url})
        answers: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: answers.append(server.get("/ready")))
        worker.start()
        deadline = time.monotonic() + 10
        while not api.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert api.requests, "the probe reached the API"
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=30)
        worker.join(timeout=30)
    assert answers and answers[0].status_code == 200, answers
    assert code == -signal.SIGTERM
    events = [e["event"] for e in server.logs()]
    request_at = next(
        i for i, e in enumerate(server.logs())
        if e["event"] == "serve.request" and e["path"] == "/ready"
    )  # fmt: skip
    assert "serve.container.disposed" in events
    disposed_at = events.index("serve.container.disposed")
    assert disposed_at > request_at
    assert server.logs()[disposed_at]["ok"] is True
    assert "database.disposed" in events[:disposed_at]


def test_serve_without_the_extra_says_how_to_install_it() -> None:
    """Where FastAPI is not installed, flext serve exits 4 naming the serve extra."""
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None  # as if the extra were not installed\n"
        "from flext_infra.cli import main\n"
        "sys.exit(main(['serve', '--port', '0']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 4, done.stderr
    assert "flext-meltano[serve]" in done.stderr
