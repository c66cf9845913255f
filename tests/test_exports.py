"""Each package's __all__ matches what it exports (see httpx's test_exported_members)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import flext_infra

PACKAGES = sorted(
    {"flext_infra"}
    | {
        m.name
        for m in pkgutil.walk_packages(flext_infra.__path__, "flext_infra.")
        if m.ispkg and not m.name.split(".")[-1].startswith("_")
    }
)


def _public(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and name not in {"annotations"}
    }


@pytest.mark.parametrize("name", PACKAGES)
def test_all_matches_exports(name: str) -> None:
    """__all__ lists exactly the public names the package defines or re-exports."""
    module = importlib.import_module(name)
    exported = set(getattr(module, "__all__", ()))
    assert exported, f"{name} has no __all__"
    assert exported == _public(module)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
