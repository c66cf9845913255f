"""Result: the value for answers where failure is expected."""

from __future__ import annotations

import pytest

from flext_infra import Result, ResultError


def test_ok_carries_value() -> None:
    """A successful result exposes its value and reports success."""
    r = Result.ok(3)
    assert r.is_success and not r.is_failure
    assert r.value == 3 and r.error is None
    assert r.unwrap() == 3


def test_falsy_values_are_successes() -> None:
    """0, False, "" and None are values, not failures."""
    for v in (0, False, "", None):
        r = Result.ok(v)
        assert r.is_success
        assert r.unwrap() is v
        assert r.unwrap_or("default") is v


def test_fail_carries_error_and_reason() -> None:
    """A failure has a message and a reason code, and no value."""
    r = Result.fail("boom", reason="bad")
    assert r.is_failure and not r.is_success
    assert r.value is None
    assert (r.error, r.reason) == ("boom", "bad")
    assert r.unwrap_or(7) == 7


def test_unwrap_raises_result_error_or_the_cause() -> None:
    """unwrap() raises ResultError, or the original exception when there is one."""
    with pytest.raises(ResultError, match=r"boom \[bad\]"):
        Result.fail("boom", reason="bad").unwrap()
    cause = KeyError("k")
    with pytest.raises(KeyError):
        Result.fail("missing", cause=cause).unwrap()


def test_map_applies_only_on_success() -> None:
    """map() transforms a value and passes a failure through untouched."""
    assert Result.ok(2).map(lambda v: v * 10).unwrap() == 20
    failed = Result.fail("nope", reason="r")
    mapped = failed.map(lambda v: v * 10)
    assert mapped.is_failure and mapped.reason == "r"
