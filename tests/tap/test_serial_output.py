"""At ``max_concurrency: 1`` the tap's output is what it was before concurrency existed."""

from __future__ import annotations

import pytest

from ._serial_golden import SCENARIOS, load_golden, run_scenario


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_serial_output_equals_the_pinned_output(scenario: str) -> None:
    """Records, SCHEMA and STATE come out exactly as the pinned serial run, in the same order."""
    expected = load_golden()[scenario]
    got = run_scenario(scenario, max_concurrency=1)
    assert len(got) == len(expected)
    for index, (message, pinned) in enumerate(zip(got, expected, strict=True)):
        assert message == pinned, f"message {index} differs"
