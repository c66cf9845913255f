"""Modules imported on first use (the standard library's ``LazyLoader`` recipe).

A plugin process builds the whole container, so every subsystem's module is
imported, but a tap never opens a database: importing SQLAlchemy and
python-oracledb eagerly cost it ~0.25 s of its start-up. Modules that need
them bind ``lazy_module("oracledb")`` instead; the real import happens on the
first attribute access (e.g. when a pool is created, or an ``except
oracledb.Error`` clause is evaluated). Written here because the recipe is six
lines of ``importlib`` (see "Implementing lazy imports" in its docs), not a
dependency.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name``'s module, loaded when one of its attributes is first used.

    Already imported: returned as is. Not installed: ``ModuleNotFoundError`` now,
    not at first use. (A dotted name imports its parent package right away.)
    """
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
