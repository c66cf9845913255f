"""The OpenAPI document is served, and schemathesis finds no response that contradicts it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.serve._seed import LedgerDb, seed
from tests.serve.conftest import Server, start_serve

TOKEN = "openapi-token-4b1d"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the whole module, with a token, no practical rate limit and runs."""
    folder = tmp_path_factory.mktemp("openapi")
    db = LedgerDb(f"sqlite:///{folder / 'ledger.db'}", None)
    seed(db.ledger())
    server = start_serve(
        folder,
        {"FLEXT_SERVE_TOKEN": TOKEN, "FLEXT_SERVE_RATE_LIMIT_PER_MINUTE": "1000000", **db.env()},
    )
    yield server
    server.terminate()


def test_the_openapi_document_lists_every_endpoint(server: Server) -> None:
    """/openapi.json names each route, its bearer security where protected, and JSON errors."""
    document = server.get("/openapi.json").json()
    paths = document["paths"]
    assert {"/health", "/ready", "/metrics", "/", "/jobs", "/runs", "/runs/{run_id}"} <= set(paths)
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert paths["/"]["get"]["security"]
    assert "security" not in paths["/health"]["get"]
    assert "503" in paths["/ready"]["get"]["responses"]


def test_no_response_contradicts_the_openapi_document(server: Server) -> None:
    """Generated requests, with the token and (schemathesis's own check) without, get
    answers their operation's schema allows: status, content type, headers and body."""
    # Built per operation here: schemathesis's pytest loaders (`from_fixture`) reach
    # into pytest internals that pytest 9 removed.
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) == 7
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:
            if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
                continue  # nothing to make invalid

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(
                max_examples=15,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

            check()
