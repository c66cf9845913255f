"""Storage tests start with no FLEXT_* or AWS_* settings, in an empty directory."""

from __future__ import annotations

import pytest

from tests.conftest import isolate_from_flext_environment

clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)
