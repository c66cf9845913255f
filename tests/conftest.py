"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def isolate_from_flext_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start in an empty directory with no FLEXT_* settings (live-test FLEXT_TEST_* kept).

    Folders whose tests read settings make it autouse in their conftest:
    ``clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)``.
    """
    for name in list(os.environ):
        if name.startswith("FLEXT_") and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
