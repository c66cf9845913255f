"""The programs being measured, each in its own virtualenv, as Meltano installs plugins.

Peers are installed with uv into ``benchmarks/.venvs/<name>`` (gitignored) the
first time they are needed, so their dependencies (an older singer-sdk,
psycopg2, ...) never touch the project's environment. Ours are reinstalled
from the working tree into ``benchmarks/.venvs/flext-meltano`` at every run:
the project's ``.venv`` also holds the dev tools, and some of them change
what a plugin imports (Meltano brings rich, which structlog then loads).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import _dataset, _services

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
PROJECT_BIN = Path(sys.executable).parent
PROJECT_DIR = BENCH_DIR.parent
#: The distribution that carries both of our plugins.
OURS = "flext-meltano"


@dataclass(frozen=True)
class PeerSpec:
    """A peer plugin: its venv name, what to install there, and its console script."""

    name: str
    packages: tuple[str, ...]
    script: str


PEERS: dict[str, PeerSpec] = {
    # tap-rest-api-msdk imports pkg_resources (through fs), removed in setuptools 81.
    "tap-rest-api-msdk": PeerSpec(
        "tap-rest-api-msdk", ("tap-rest-api-msdk", "setuptools<81"), "tap-rest-api-msdk"
    ),
    "target-postgres": PeerSpec(
        "target-postgres", ("meltanolabs-target-postgres",), "target-postgres"
    ),
}


@dataclass(frozen=True)
class Subject:
    """A runnable program, or the reason it cannot run."""

    name: str
    executable: Path | None
    unavailable: str = ""
    version: str = ""
    #: Wall time of the probe (``--version`` or ``--about``): roughly the import cost
    #: every run pays before its first record.
    probe_s: float | None = None


def _uv() -> str | None:
    local = PROJECT_BIN / "uv"
    return str(local) if local.exists() else shutil.which("uv")


def _probe(name: str, exe: Path, *args: str) -> Subject:
    """Run ``exe args`` (e.g. ``--version``); the subject is available if it exits 0."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Subject(name, None, f"{exe.name} {' '.join(args)} failed: {exc}")
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return Subject(
            name,
            None,
            f"{exe.name} {' '.join(args)} exited {done.returncode}: "
            + (lines[-1] if lines else "no output"),
        )
    probe_s = time.perf_counter() - started
    version = ""
    if "--version" in args:
        version = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    else:
        try:
            version = str(json.loads(done.stdout).get("version", ""))
        except (ValueError, AttributeError):
            version = ""
    return Subject(name, exe, version=version, probe_s=probe_s)


def _install(venv: Path, packages: list[str]) -> str:
    """Install ``packages`` into ``venv`` (created if missing), bytecode compiled as pip does.

    Returns:
        The reason it failed, or "" when it worked.
    """
    uv = _uv()
    if uv is None:
        return "uv not found to install it"
    steps = [[uv, "venv", "--quiet", "--python", sys.executable, str(venv)]]
    if (venv / "bin" / "python").exists():
        steps = []
    steps.append(
        [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python",
         str(venv / "bin" / "python"), *packages]
    )  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()
            return "install failed: " + (tail[-1] if tail else "no output")
    return ""


def ensure_peer(spec: PeerSpec, *, install: bool = True) -> Subject:
    """The peer's console script, installing it into its own venv if it is missing."""
    venv = VENVS_DIR / spec.name
    exe = venv / "bin" / spec.script
    if not exe.exists():
        if not install:
            return Subject(spec.name, None, f"not installed in {venv} (run without --no-install)")
        print(f"installing {spec.name} into {venv} ...", file=sys.stderr, flush=True)
        failed = _install(venv, list(spec.packages))
        if failed:
            return Subject(spec.name, None, failed)
        if not exe.exists():
            return Subject(spec.name, None, f"installed, but {exe} is missing")
    return _probe(spec.name, exe, "--version")


#: Sling ships as a binary inside this wheel (the ``sling`` wrapper package downloads
#: its binary at run time, which cannot work here).
SLING_PACKAGE = "sling-linux-amd64"


def ensure_sling(*, install: bool = True) -> Subject:
    """Sling's Go binary from the ``sling-linux-amd64`` wheel, in its own venv."""
    venv = VENVS_DIR / "sling"

    def find() -> Path | None:
        found = sorted(venv.glob("lib/python*/site-packages/sling_linux_amd64/bin/sling-*"))
        return found[0] if found else None

    exe = find()
    if exe is None:
        if not install:
            return Subject("sling", None, f"not installed in {venv} (run without --no-install)")
        print(f"installing sling ({SLING_PACKAGE}) into {venv} ...", file=sys.stderr, flush=True)
        failed = _install(venv, [SLING_PACKAGE])
        if failed:
            return Subject("sling", None, failed)
        exe = find()
        if exe is None:
            return Subject("sling", None, f"installed, but no sling binary under {venv}")
    subject = _probe("sling", exe, "--version")
    if subject.version.lower().startswith("version:"):
        subject = replace(subject, version=subject.version.split(":", 1)[1].strip())
    return subject


def install_ours(*, install: bool = True) -> Path:
    """The bin folder holding our console scripts: a fresh install of the working tree.

    With ``install=False`` (``--no-install``), or if installing fails, the
    project's own ``.venv`` is used, and a message on stderr says so.
    """
    venv = VENVS_DIR / OURS
    if install:
        print(f"installing {OURS} (working tree) into {venv} ...", file=sys.stderr, flush=True)
        failed = _install(venv, ["--reinstall-package", OURS, str(PROJECT_DIR)])
        if not failed:
            return venv / "bin"
        print(f"{failed}; measuring the project .venv instead", file=sys.stderr, flush=True)
    return PROJECT_BIN


def ours(script: str, bin_dir: Path = PROJECT_BIN) -> Subject:
    """One of our console scripts in ``bin_dir``, checked with ``--about --format=json``."""
    exe = bin_dir / script
    if not exe.exists():
        return Subject(script, None, f"console script {exe} not installed")
    return _probe(script, exe, "--about", "--format=json")


# --------------------------------------------------------------------- configs
def tap_flext_api_config(base_url: str, *, trust_schema: bool) -> dict[str, Any]:
    """tap-flext-api reading the generic page-number + has_more stream."""
    return {
        "base_url": base_url,
        "page_size": _services.PAGE_SIZE,
        "trust_schema": trust_schema,
        "streams": [
            {
                "name": "items",
                "path": _services.GENERIC_PATH,
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "paginator": {
                    "type": "page_number",
                    "page_param": _services.PAGE_PARAM,
                    "start_page": 1,
                    "page_size_param": _services.SIZE_PARAM,
                    "has_more_path": "$.has_more",
                },
            }
        ],
    }


def tap_rest_api_msdk_config(base_url: str) -> dict[str, Any]:
    """tap-rest-api-msdk on the same stream: its page_number_paginator follows ``has_more``.

    It infers the schema from the first page (its default; it has no other
    discovery for a generic API) and flattens nested objects, as it always does.
    """
    return {
        "api_url": base_url,
        "pagination_request_style": "page_number_paginator",
        "next_page_token_path": "$.has_more",
        "pagination_initial_offset": 1,
        "streams": [
            {
                "name": "items",
                "path": _services.GENERIC_PATH,
                "records_path": "$.data[*]",
                "primary_keys": ["id"],
                "params": {_services.SIZE_PARAM: _services.PAGE_SIZE},
            }
        ],
    }


def target_flext_oracle_config(
    url: str,
    *,
    schema: str | None,
    reject_dir: Path,
    batch_size: int | None,
    load_method: str = "append-only",
    columnar: bool = True,
) -> dict[str, Any]:
    """target-flext-oracle loading into ``url`` (a throwaway schema on PostgreSQL)."""
    config: dict[str, Any] = {
        "sqlalchemy_url": url,
        "load_method": load_method,
        "reject_path": str(reject_dir),
    }
    if not columnar:
        config["columnar"] = False
    if batch_size is not None:
        config["batch_size_rows"] = batch_size
    if schema is not None:
        config["default_target_schema"] = schema
    return config


def target_postgres_config(schema: str) -> dict[str, Any]:
    """MeltanoLabs target-postgres with its defaults, into a throwaway schema.

    Its host/user keys insist on a password; trust auth has none, so the URL is used.
    """
    return {"sqlalchemy_url": _services.pg_url(), "default_target_schema": schema}


def write_config(directory: Path, name: str, config: dict[str, Any]) -> Path:
    """Write a config file for one run and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


TARGET_STREAM = _dataset.STREAM
TAP_STREAM = "items"
