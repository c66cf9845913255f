"""Lazy imports: a process that never opens a database never imports its drivers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flext_infra._lazy import lazy_module


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # The last line: structlog, never configured in these snippets, prints to stdout.
    return done.stdout.strip().splitlines()[-1]


def test_building_every_profile_imports_no_database_driver() -> None:
    """A plugin's container (every subsystem registered) leaves unused heavy modules unloaded.

    SQLAlchemy and oracledb (no database opened), yaml (no rules file, no
    meltano.yml read) and hishel (no cache) are bound lazily.
    """
    out = _run(
        "import sys\n"
        "from flext_infra import FlextContainer\n"
        "for env in ('development', 'test', 'staging', 'production'):\n"
        "    FlextContainer.for_environment(env).validate()\n"
        "import flext_infra.database\n"
        # A bound but unused lazy module has the type _LazyModule, not module.
        "drivers = ('sqlalchemy', 'oracledb', 'yaml', 'hishel')\n"
        "loaded = [m for m in drivers if type(sys.modules.get(m)) is type(sys)]\n"
        "print(loaded)\n"
    )
    assert out == "[]"


def test_first_use_loads_the_driver() -> None:
    """Using the database package (a SQLite manager, an Oracle constant) loads the real modules."""
    out = _run(
        "import sys\n"
        "from flext_infra.database import create_database_manager_from_url\n"
        "from flext_infra.database._oracle_params import _GETMODES\n"
        "m = create_database_manager_from_url('sqlite://')\n"
        "assert m.health().ok\n"
        "m.dispose()\n"
        "import oracledb\n"
        "print(oracledb.POOL_GETMODE_WAIT == getattr(oracledb, _GETMODES['wait']), "
        "hasattr(sys.modules['sqlalchemy'], 'create_engine'))\n"
    )
    assert out == "True True"


def test_missing_module_fails_at_once() -> None:
    """A module that is not installed raises when bound, not at first use."""
    with pytest.raises(ModuleNotFoundError, match="no_such_module_flext"):
        lazy_module("no_such_module_flext")


def test_already_imported_module_is_returned_as_is() -> None:
    """No second copy of a module that is loaded already."""
    import json

    assert lazy_module("json") is json
