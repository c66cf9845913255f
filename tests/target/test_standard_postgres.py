"""The SDK's standard target tests on PostgreSQL (a unique schema per run, dropped after).

No test is excluded. singer-sdk itself leaves TargetMultipleStateMessages out of its
suite (it assumes drains at points the SDK does not define); this target's STATE
release rules are tested in test_state.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from singer_sdk.testing import get_target_test_class
from sqlalchemy.pool import NullPool

from target_flext_oracle import TargetFlextOracle
from tests.target.conftest import PG_URL, pg_available

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not pg_available(), reason="PostgreSQL is not running on 127.0.0.1:5432"),
]

_SCHEMA = f"flext_std_{uuid.uuid4().hex[:10]}"

_Base = get_target_test_class(
    TargetFlextOracle,
    config={"sqlalchemy_url": PG_URL, "default_target_schema": _SCHEMA},
)


class TestStandardPostgres(_Base):  # type: ignore[misc,valid-type]
    """SDK standard target tests against PostgreSQL."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _drop_schema(cls) -> Iterator[None]:
        yield
        engine = sa.create_engine(PG_URL, poolclass=NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{_SCHEMA}" CASCADE')
        engine.dispose()
