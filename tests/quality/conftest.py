"""Quality tests start with no FLEXT_* settings, in an empty directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No FLEXT_* variables leak in; the working directory is a fresh temp dir."""
    for name in list(os.environ):
        if name.startswith("FLEXT_") and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
