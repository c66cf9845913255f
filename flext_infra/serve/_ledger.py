"""``/jobs``, ``/runs`` and ``/runs/{run_id}``: the run ledger over HTTP.

The bodies are the ledger's own views (``RunRecord.to_dict()``), so ``/runs``
and ``flext runs --json`` show the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from flext_infra.container import Container
from flext_infra.observability import get_logger
from flext_infra.orchestration import MeltanoProject
from flext_infra.runs import RunLedger, RunStatus
from flext_infra.serve._errors import ServeError
from flext_infra.serve._models import ErrorBody, JobOut, JobsOut, RunOut, RunPage, ScheduleOut

log = get_logger("flext.serve")

#: Largest page of runs one request may ask for.
MAX_LIMIT = 500


def ledger_of(container: Container) -> RunLedger:
    """The container's ``run_ledger``, or a 503 saying why it cannot be opened."""
    found = container.try_resolve("run_ledger")
    if found.is_failure:
        log.warning("serve.ledger_unavailable", error=str(found.error))
        raise ServeError(503, "ledger_unavailable", "the run ledger cannot be opened")
    ledger: RunLedger = found.unwrap()
    return ledger


@contextmanager
def reading() -> Iterator[None]:
    """Turn a ledger that fails while read (its database down) into a 503, logged."""
    try:
        yield
    except ServeError:
        raise
    except Exception as exc:  # the driver's errors vary by dialect; all mean "not now"
        log.warning("serve.ledger_read_failed", error=f"{type(exc).__name__}: {exc}")
        raise ServeError(503, "ledger_unavailable", "the run ledger cannot be read") from exc


def jobs_view(project: MeltanoProject | None, ledger: RunLedger) -> JobsOut:
    """Every job of the project with its schedules and last run (``flext jobs`` plus runs)."""
    if project is None:
        return JobsOut(project="", jobs=[], schedules=[])
    schedules = [ScheduleOut(**asdict(s)) for s in project.schedules()]
    jobs = []
    for job in project.jobs():
        last = ledger.last_run(job.name)
        jobs.append(
            JobOut(
                name=job.name,
                tasks=list(job.tasks),
                schedules=[s for s in schedules if s.job == job.name],
                last_run=RunOut.model_validate(last.to_dict()) if last is not None else None,
            )
        )
    return JobsOut(project=str(project.root), jobs=jobs, schedules=schedules)


def strict_query(*known: str) -> Any:
    """A dependency refusing (422) query parameters the route does not take, or takes once
    but got twice: a misspelt or repeated filter would otherwise be silently ignored."""

    def check(request: Request) -> None:
        params = request.query_params
        unknown = sorted(set(params) - set(known))
        repeated = sorted(k for k in set(params) & set(known) if len(params.getlist(k)) > 1)
        if unknown:
            raise ServeError(422, "invalid_request", f"unknown parameters: {', '.join(unknown)}")
        if repeated:
            raise ServeError(422, "invalid_request", f"given more than once: {', '.join(repeated)}")

    return Depends(check)


def ledger_router(
    container: Container,
    project: MeltanoProject | None,
    dependencies: list[Any],
    responses: dict[int | str, dict[str, Any]],
) -> APIRouter:
    """The ledger routes, each behind ``dependencies`` (the rate limit and the token)."""
    router = APIRouter(
        tags=["ledger"],
        dependencies=dependencies,
        responses={
            **responses,
            422: {"model": ErrorBody},
            503: {"model": ErrorBody, "description": "No ledger."},
        },
    )

    @router.get("/jobs", response_model=JobsOut, dependencies=[strict_query()])
    def jobs() -> JobsOut:
        """The Meltano jobs and schedules, each job with its last run."""
        with reading():
            return jobs_view(project, ledger_of(container))

    @router.get(
        "/runs",
        response_model=RunPage,
        dependencies=[strict_query("job", "status", "limit", "offset")],
    )
    def runs(
        job: Annotated[str | None, Query(max_length=200, description="Only this job.")] = None,
        status: Annotated[RunStatus | None, Query(description="Only this status.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> RunPage:
        """Runs, newest first, filtered by job and status, a page at a time."""
        # One more than asked tells whether a next page exists.
        with reading():
            ledger = ledger_of(container)
            found = ledger.list_runs(job=job, status=status, limit=limit + 1, offset=offset)
        page = found[:limit]
        return RunPage(
            runs=[RunOut.model_validate(r.to_dict()) for r in page],
            limit=limit,
            offset=offset,
            next_offset=offset + limit if len(found) > limit else None,
        )

    @router.get(
        "/runs/{run_id}",
        response_model=RunOut,
        dependencies=[strict_query()],
        responses={404: {"model": ErrorBody, "description": "No such run."}},
    )
    def run(run_id: Annotated[str, Path(max_length=200)]) -> RunOut:
        """One run with its streams (``flext runs show RUN_ID --json``)."""
        with reading():
            found = ledger_of(container).get_run(run_id)
        if found is None:
            raise ServeError(404, "run_not_found", "no such run in the ledger")
        return RunOut.model_validate(found.to_dict())

    return router
