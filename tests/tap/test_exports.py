"""tap_flext_api's public face: __all__ lists exactly what the package exports."""

from __future__ import annotations

from types import ModuleType

import pytest

import tap_flext_api
import tap_flext_api.concurrency
import tap_flext_api.pagination
import tap_flext_api.profiles


@pytest.mark.parametrize(
    "module",
    [tap_flext_api, tap_flext_api.profiles, tap_flext_api.concurrency],
    ids=lambda m: m.__name__,
)
def test_all_matches_exports(module: ModuleType) -> None:
    """__all__ names every public, non-module attribute, and each one exists."""
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert set(module.__all__) == public
    assert all(getattr(module, name) is not None for name in module.__all__)


def test_pagination_module_all_is_complete() -> None:
    """The pagination module lists every paginator it defines."""
    defined = {
        name
        for name, value in vars(tap_flext_api.pagination).items()
        if isinstance(value, type)
        and value.__module__ == "tap_flext_api.pagination"
        and not name.startswith("_")
    }
    assert defined <= set(tap_flext_api.pagination.__all__)
