"""A plugin process (tap or target) never imports an optional extra (serve, dagster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flext_infra.testing import SampleApi

BIN = Path(sys.executable).parent
#: Each optional extra's packages (and what only they bring in), with our module behind it.
EXTRAS = {
    "serve": ("fastapi", "uvicorn", "starlette", "jinja2", "limits", "asgi_correlation_id",
              "flext_infra.serve"),
    "dagster": ("dagster", "flext_infra.orchestration.dagster"),  # dagster_* included
}  # fmt: skip
STACK = tuple(name for names in EXTRAS.values() for name in names)

#: Runs a console script in this interpreter and writes, at exit, the optional
#: modules it had imported.
PROBE = """\
import atexit, json, runpy, sys
out, script, *argv = sys.argv[1:]
stack = {stack!r}
def report():
    loaded = sorted(m for m in sys.modules if m.startswith(stack))
    with open(out, "w") as f:
        json.dump(loaded, f)
atexit.register(report)
sys.argv = [script, *argv]
runpy.run_path(script, run_name="__main__")
"""


def _probe(tmp_path: Path, name: str, script: str, *argv: str, stdin: bytes = b"") -> bytes:
    out = tmp_path / f"{name}.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(stack=STACK), str(out), script, *argv],
        input=stdin, capture_output=True, timeout=120, check=False,
        env={**os.environ, "FLEXT_ENVIRONMENT": "test"}, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    loaded = json.loads(out.read_text())
    extras = sorted(e for e, names in EXTRAS.items() if any(m.startswith(names) for m in loaded))
    assert loaded == [], f"{name} imported the {', '.join(extras)} extra: {loaded[:5]}"
    return done.stdout


def test_a_tap_and_a_target_sync_without_importing_an_optional_extra(tmp_path: Path) -> None:
    """A real tap -> target sync into SQLite leaves fastapi, uvicorn, dagster... unimported."""
    with SampleApi(records=20) as api:
        tap_config = tmp_path / "tap.json"
        tap_config.write_text(json.dumps(
            {"profile": "oracle_wms", "base_url": api.base_url, "entities": ["allocation"]}
        ))  # fmt: skip
        singer = _probe(tmp_path, "tap", str(BIN / "tap-flext-api"), "--config", str(tap_config))
    assert b'"RECORD"' in singer
    target_config = tmp_path / "target.json"
    target_config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{tmp_path / 't.db'}"}))
    state = _probe(
        tmp_path, "target", str(BIN / "target-flext-oracle"), "--config", str(target_config),
        stdin=singer,
    )  # fmt: skip
    assert b"bookmarks" in state
