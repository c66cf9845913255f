"""Many workers: real processes sharing one Redis and one S3-compatible server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_INHERITED = ("FLEXT_", "TAP_FLEXT_API_", "TARGET_FLEXT_ORACLE_", "AWS_", "MELTANO_")


@pytest.fixture(autouse=True)
def no_inherited_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FLEXT_*, TAP_/TARGET_ or AWS_* variables leak in; each test starts in its own dir."""
    for name in list(os.environ):
        if name.startswith(_INHERITED) and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
