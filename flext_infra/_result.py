"""A small value for answers where failure is an expected outcome.

Use it for ``try_resolve``, health checks and validation reports, where the
caller branches on success. Ordinary errors are raised as exceptions instead:
wrapping them would throw away their type and traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
U = TypeVar("U")

_MISSING: Any = object()


class ResultError(Exception):
    """Raised by :meth:`Result.unwrap` on a failed result."""

    def __init__(self, error: str, reason: str | None) -> None:
        super().__init__(error if reason is None else f"{error} [{reason}]")
        self.error = error
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    """The outcome of an operation that may fail in an expected way.

    Attributes:
        error: A human-readable message on failure, ``None`` on success.
        reason: A short machine-readable code for the failure (``"not_registered"``).
        cause: The exception behind the failure, when there was one.
    """

    _value: T
    error: str | None = None
    reason: str | None = None
    cause: BaseException | None = None

    @classmethod
    def ok(cls, value: T) -> Result[T]:
        """A successful result carrying ``value``."""
        return cls(value)

    @classmethod
    def fail(
        cls, error: str, *, reason: str | None = None, cause: BaseException | None = None
    ) -> Result[Any]:
        """A failed result with a message, a reason code and, optionally, its cause."""
        return Result(_MISSING, error=error, reason=reason, cause=cause)

    @property
    def is_success(self) -> bool:
        """True when the operation succeeded."""
        return self._value is not _MISSING

    @property
    def is_failure(self) -> bool:
        """True when the operation failed."""
        return self._value is _MISSING

    @property
    def value(self) -> T | None:
        """The value on success, ``None`` on failure."""
        return None if self._value is _MISSING else self._value

    def unwrap(self) -> T:
        """Return the value, or raise on failure.

        Raises the original exception when the failure has one, else ``ResultError``.
        """
        if self._value is not _MISSING:
            return self._value
        if self.cause is not None:
            raise self.cause
        raise ResultError(cast(str, self.error), self.reason)

    def unwrap_or(self, default: U) -> T | U:
        """Return the value, or ``default`` on failure."""
        return default if self._value is _MISSING else self._value

    def map(self, fn: Callable[[T], U]) -> Result[U]:
        """Apply ``fn`` to a successful value; a failure passes through unchanged."""
        if self._value is _MISSING:
            return cast("Result[U]", self)
        return Result.ok(fn(self._value))

    def __repr__(self) -> str:
        if self.is_success:
            return f"Result.ok({self._value!r})"
        return f"Result.fail({self.error!r}, reason={self.reason!r})"
