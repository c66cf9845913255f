"""Foundation tests run with no FLEXT_* variables and no stray .env file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts in an empty directory with no FLEXT_* settings (live-test DSNs kept)."""
    for name in list(os.environ):
        if name.startswith("FLEXT_") and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
