"""The SDK's standard target tests on SQLite.

No test is excluded; see test_standard_postgres.py for the one test singer-sdk
leaves out of its own suite.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class

from target_flext_oracle import TargetFlextOracle

_DIR = Path(tempfile.mkdtemp(prefix="flext-target-std-"))

_Base = get_target_test_class(
    TargetFlextOracle,
    config={
        "sqlalchemy_url": f"sqlite:///{_DIR / 'standard.db'}",
        "reject_path": str(_DIR / "rejects"),
    },
)


class TestStandardSqlite(_Base):  # type: ignore[misc,valid-type]
    """SDK standard target tests against SQLite."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _cleanup(cls) -> Iterator[None]:
        yield
        shutil.rmtree(_DIR, ignore_errors=True)
