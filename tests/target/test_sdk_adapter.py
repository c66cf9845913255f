"""The SDK adapter: fails when the SDK changes under it; sink hooks honoured or refused."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import inspect
import io
import textwrap
from importlib.metadata import version
from typing import Any

import pytest

from target_flext_oracle import FlextSink, TargetError, TargetFlextOracle
from target_flext_oracle._sdk_adapter import CHECKED_SDK_VERSIONS, SDK_METHODS_CHECKED
from tests.target.conftest import Db, rec, run_target, schema_msg, singer

#: Fingerprints of the SDK methods the adapter replaces or builds on, as checked
#: against singer-sdk 0.54.9: their code without docstrings and comments.
FINGERPRINTS = {
    "target_base.Target._process_record_message": "48f5a6279f9384e3",
    "target_base.Target._process_state_message": "36cc370fdb1ef879",
    "target_base.Target._write_state_message": "867b5018110d0a28",
    "target_base.Target.drain_one": "3f051bf65645a1e3",
    "target_base.Target.drain_all": "69fef514717f3935",
    "target_base.Target._process_batch_message": "6160b5b6cd8bac57",
    "plugin_base.BaseSingerReader.process_lines": "98b9673cb8eec971",
    "sinks.core.Sink._add_sdc_metadata_to_record": "14aa4c862af29832",
    "sinks.core.Sink._get_context": "a7d5f6a807527099",
    "sinks.core.Sink.start_drain": "c218b20dff725b45",
}


def _fingerprint(path: str) -> str:
    """The method's code (no docstring), as an AST dump, hashed."""
    module, cls, name = path.rsplit(".", 2)
    method = getattr(getattr(importlib.import_module(f"singer_sdk.{module}"), cls), name)
    tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        func.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(func).encode()).hexdigest()[:16]


def test_the_installed_sdk_is_a_version_the_adapter_was_checked_against() -> None:
    """singer-sdk's minor version is one the adapter module names."""
    installed = ".".join(version("singer-sdk").split(".")[:2])
    assert installed in CHECKED_SDK_VERSIONS


@pytest.mark.parametrize("path", SDK_METHODS_CHECKED)
def test_the_sdk_methods_the_adapter_replaces_have_not_changed(path: str) -> None:
    """Each SDK method the adapter overrides or relies on still has the code it was checked on."""
    assert path in FINGERPRINTS, f"{path} has no recorded fingerprint"
    assert _fingerprint(path) == FINGERPRINTS[path], (
        f"singer_sdk.{path} changed: re-read it, adjust target_flext_oracle/_sdk_adapter.py, "
        "then record the new fingerprint"
    )


@pytest.mark.parametrize("hook", ["process_record", "_after_process_record", "_validate_and_parse"])
def test_a_sink_overriding_a_hook_the_target_never_calls_is_refused(hook: str) -> None:
    """Defining a FlextSink subclass that overrides a dropped hook fails, naming the hook."""

    def override(self: Any, *args: Any) -> None:
        return None

    with pytest.raises(TargetError, match=rf"overrides {hook}\(\).*preprocess_record"):
        type("MySink", (FlextSink,), {hook: override})


class UpperSink(FlextSink):
    """A sink whose preprocess_record upper-cases names and drops a field."""

    seen_contexts: list[dict[str, Any]] = []

    def preprocess_record(self, record: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        type(self).seen_contexts.append(dict(context))
        out = dict(record)
        out["name"] = str(out["name"]).upper()
        out.pop("secret", None)
        return out


class UpperTarget(TargetFlextOracle):
    """The target with the preprocessing sink."""

    default_sink_class = UpperSink


def _run_upper(db: Db, **extra: Any) -> Any:
    schema = {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "secret": {"type": ["string", "null"]},
    }
    text = singer(
        schema_msg("people", schema, ["id"]),
        rec("people", {"id": 1, "name": "ana", "secret": "x"}),
        rec("people", {"id": 2, "name": "bo", "secret": "y"}),
        rec("people", {"id": 3, "name": "cy", "secret": None}),
    )
    target = UpperTarget(config={**db.config, **extra})
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(text))
    return target


def test_preprocess_record_is_honoured_for_every_record(db: Db) -> None:
    """A sink's preprocess_record runs on each record before conversion; its result is loaded."""
    UpperSink.seen_contexts.clear()
    _run_upper(db, batch_size_rows=2)
    rows = db.rows("people")
    assert [(r["id"], r["name"], r["secret"]) for r in rows] == [
        (1, "ANA", None),
        (2, "BO", None),
        (3, "CY", None),
    ]
    assert len(UpperSink.seen_contexts) == 3


def test_the_sdk_record_counters_count_every_loaded_record(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    """tally_record_read and the SDK's record_count metric see each loaded row once."""
    caplog.set_level("INFO", logger="singer_sdk.metrics")
    target = _run_upper(db, batch_size_rows=2)
    sink = next(iter(target._sinks_active.values()))
    assert sink._total_records_read == 3
    counts = [r.getMessage() for r in caplog.records if '"metric":"record_count"' in r.getMessage()]
    assert len(counts) == 1
    assert '"value":3' in counts[0]


def test_records_without_a_custom_sink_are_loaded_unchanged(db: Db) -> None:
    """The default sink does not preprocess (its records are loaded as sent)."""
    run = run_target(
        db.config,
        singer(
            schema_msg("people", {"id": {"type": "integer"}, "name": {"type": "string"}}, ["id"]),
            rec("people", {"id": 1, "name": "ana"}),
        ),
    )
    assert run.states == []
    assert [r["name"] for r in db.rows("people")] == ["ana"]
