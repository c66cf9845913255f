"""Meltano names as valid Dagster names."""

from __future__ import annotations

import keyword

import pytest
from dagster._core.definitions.utils import DISALLOWED_NAMES, check_valid_name
from hypothesis import given
from hypothesis import strategies as st

from flext_infra._errors import ConfigurationError
from flext_infra.orchestration.dagster import dagster_name
from flext_infra.orchestration.dagster._names import DAGSTER_RESERVED, unique_names


@pytest.mark.parametrize(
    ("meltano", "dagster"),
    [
        ("incremental-sync-job", "incremental_sync_job"),
        ("tap-flext-api--allocation", "tap_flext_api__allocation"),
        ("full sync (weekly)", "full_sync__weekly_"),
        ("input", "input_"),
        ("class", "class_"),
        ("2-hourly", "2_hourly"),
    ],
)
def test_meltano_names_become_dagster_names(meltano: str, dagster: str) -> None:
    """Dashes and other characters become _, reserved words get a trailing _."""
    assert dagster_name(meltano) == dagster


@given(st.text(min_size=1).filter(str.strip))
def test_every_name_is_accepted_by_dagster(name: str) -> None:
    """Whatever the Meltano name, Dagster accepts the converted one."""
    assert check_valid_name(dagster_name(name)) == dagster_name(name)


def test_the_reserved_words_are_dagsters() -> None:
    """DAGSTER_RESERVED is Dagster's list less Python's keywords (fails when Dagster's grows)."""
    assert set(DISALLOWED_NAMES) - set(keyword.kwlist) == DAGSTER_RESERVED


def test_names_that_collide_are_refused() -> None:
    """Two Meltano names with one Dagster name is a configuration error naming both."""
    assert unique_names(["a-b", "c"], "job") == {"a-b": "a_b", "c": "c"}
    with pytest.raises(ConfigurationError, match=r"'a-b' and 'a\.b' both become"):
        unique_names(["a-b", "a.b"], "job")
    with pytest.raises(ConfigurationError, match="empty name"):
        dagster_name("  ")
