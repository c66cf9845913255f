"""The latency suite's pure parts: the floor and the goal verdicts (timings live in benchmarks/)."""

from __future__ import annotations

import pytest

from benchmarks.latency import Result, floor_s, report


@pytest.mark.parametrize(
    ("pages", "concurrency", "rate", "expected"),
    [(180, 16, 20.0, 9.0), (180, 1, 20.0, 18.0), (180, 16, None, 1.125), (180, 4, 20.0, 9.0)],
)
def test_the_floor_is_latency_over_concurrency_or_pages_over_the_rate(
    pages: int, concurrency: int, rate: float | None, expected: float
) -> None:
    """max(pages x 100 ms / concurrency, pages / rate)."""
    assert floor_s(pages, concurrency, rate) == pytest.approx(expected)


def test_the_report_judges_each_goal_on_the_rows_of_the_same_run() -> None:
    """Ratios come from this run's rows; a missed goal says missed."""
    rows = [
        Result("A", "tap-flext-api", 8, 180_000, 10.0, 183, 1, 90.0, 9.0, [10.0]),
        Result("A", "tap-rest-api-msdk", 1, 180_000, 40.0, 183, 0, 70.0, 18.0, [40.0]),
        Result("A", "dlt rest_api", 1, 180_000, 30.0, 180, 0, 100.0, 18.0, [30.0]),
        Result("B", "tap-flext-api", 16, 180_000, 2.0, 183, 0, 100.0, 1.125, [2.0]),
        Result("B", "tap-rest-api-msdk", 1, 180_000, 25.0, 183, 0, 70.0, 18.0, [25.0]),
    ]
    text = report(rows)
    assert "A, c=8: 1.11x the floor (goal ≤ 1.25x): met" in text
    assert "4.0x faster than tap-rest-api-msdk (goal ≥ 3.5x): met" in text
    assert "3.0x faster than dlt rest_api (goal ≥ 3.5x): missed" in text
    assert "429s 1/183 = 0.5% (goal ≤ 1%): met" in text
    assert "B, c=16: 12.5x faster than tap-rest-api-msdk (goal ≥ 10x): met" in text
