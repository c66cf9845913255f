"""``/jobs``, ``/runs`` and ``/runs/{id}`` over a real ledger, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from tests.serve._seed import FAILING_JOB, FAILURE, PASSING_JOB, LedgerDb, seed
from tests.serve.conftest import FLEXT, REPO, StartServe

TOKEN = "ledger-token-2c7f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _flext_json(db: LedgerDb, *args: str) -> Any:
    done = subprocess.run(
        [FLEXT, *args, "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
        env={**os.environ, "FLEXT_ENVIRONMENT": "test", **db.env()},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_runs_return_what_flext_runs_shows(serve: StartServe, ledger_db: LedgerDb) -> None:
    """/runs (filtered and paged) and /runs/{id} equal `flext runs --json` and `runs show`."""
    seeded = seed(ledger_db.ledger())
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN, **ledger_db.env()})
    cases = [
        ({}, ["runs"]),
        ({"job": FAILING_JOB, "limit": 3}, ["runs", "--job", FAILING_JOB, "--limit", "3"]),
        ({"job": FAILING_JOB, "limit": 3, "offset": 3},
         ["runs", "--job", FAILING_JOB, "--limit", "3", "--offset", "3"]),
        ({"status": "failed"}, ["runs", "--status", "failed"]),
    ]  # fmt: skip
    for params, argv in cases:
        response = server.get("/runs", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["runs"] == _flext_json(ledger_db, *argv), params
    everything = server.get("/runs", headers=AUTH).json()
    hourly = seeded.all_ids[:-1]  # the full sync started half an hour after the first of them
    newest_first = [*reversed(hourly[1:]), seeded.succeeded, hourly[0]]
    assert [r["run_id"] for r in everything["runs"]] == newest_first
    first = server.get("/runs", params={"job": FAILING_JOB, "limit": 4}, headers=AUTH).json()
    rest = server.get("/runs", params={"job": FAILING_JOB, "limit": 4, "offset": 4},
                      headers=AUTH).json()  # fmt: skip
    assert first["next_offset"] == 4 and rest["next_offset"] is None
    assert len(first["runs"]) + len(rest["runs"]) == 6
    one = server.get(f"/runs/{seeded.failed}", headers=AUTH)
    assert one.json() == _flext_json(ledger_db, "runs", "show", seeded.failed)
    assert one.json()["status"] == "failed" and one.json()["error"] == FAILURE
    assert [s["stream"] for s in one.json()["streams"]] == ["allocation", "order_hdr"]


def test_an_unknown_run_is_404_and_a_bad_filter_is_422(
    serve: StartServe, ledger_db: LedgerDb
) -> None:
    """A run id the ledger lacks answers 404; a status that does not exist answers 422."""
    seed(ledger_db.ledger(), history=1)
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN, **ledger_db.env()})
    missing = server.get("/runs/no-such-run", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "run_not_found"
    bad = server.get("/runs", params={"status": "exploded"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert "exploded" not in bad.text
    assert server.get("/runs", params={"limit": 0}, headers=AUTH).status_code == 422
    twice = server.get("/runs", params=[("job", "a"), ("job", "b")], headers=AUTH)
    assert twice.status_code == 422 and "job" in twice.json()["error"]["message"]
    typo = server.get("/runs", params={"stauts": "failed"}, headers=AUTH)
    assert typo.status_code == 422 and "stauts" in typo.json()["error"]["message"]


def test_jobs_show_each_job_with_its_schedules_and_last_run(
    serve: StartServe, ledger_db: LedgerDb
) -> None:
    """/jobs lists meltano.yml's jobs (as `flext jobs`), each with its schedules and last run."""
    seeded = seed(ledger_db.ledger())
    server = serve({"FLEXT_SERVE_TOKEN": TOKEN, **ledger_db.env()})
    body = server.get("/jobs", headers=AUTH).json()
    listed = _flext_json(ledger_db, "jobs")
    assert [(j["name"], j["tasks"]) for j in body["jobs"]] == [
        (j["name"], j["tasks"]) for j in listed["jobs"]
    ]
    assert body["schedules"] == listed["schedules"]
    jobs = {j["name"]: j for j in body["jobs"]}
    assert jobs[FAILING_JOB]["last_run"]["run_id"] == seeded.failed
    assert jobs[FAILING_JOB]["last_run"]["status"] == "failed"
    assert [s["name"] for s in jobs[FAILING_JOB]["schedules"]] == ["incremental-sync-every-2-hours"]
    assert jobs[PASSING_JOB]["last_run"]["run_id"] == seeded.succeeded
    assert jobs["order-dtl-incremental-sync"]["last_run"] is None
