"""Foundation tests run with no FLEXT_* variables and no stray .env file."""

from __future__ import annotations

import pytest

from tests.conftest import isolate_from_flext_environment

clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)
