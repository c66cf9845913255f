"""The container's errors: one root, one class per thing the caller should fix."""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable, Sequence

from flext_infra._errors import FlextInfraError


def key_name(key: Hashable) -> str:
    """A readable name for a service key: the string itself or the type's qualified name."""
    if isinstance(key, type):
        return f"{key.__module__}.{key.__qualname__}"
    return str(key)


class ContainerError(FlextInfraError):
    """Root of every error the container raises."""

    reason = "container_error"


class ServiceNotFoundError(ContainerError, LookupError):
    """No service is registered under the key. The message suggests close names."""

    reason = "not_registered"

    def __init__(
        self,
        key: Hashable,
        known: Iterable[Hashable] = (),
        *,
        needed_by: str = "",
        annotation: str | None = None,
    ) -> None:
        self.key = key
        self.annotation = annotation
        names = [key_name(k) for k in known]
        close = difflib.get_close_matches(key_name(key), names, n=3, cutoff=0.6)
        if annotation is not None:
            # The parameter's type could not be evaluated (defined in a function, or
            # only under TYPE_CHECKING) and no registered type or name matches it.
            msg = (
                f"no service registered for parameter {key_name(key)!r} annotated "
                f"{annotation!r} (the annotation cannot be evaluated, and no single "
                "registered type has that name)"
            )
        else:
            msg = f"no service registered as {key_name(key)!r}"
        if needed_by:
            msg += f" (needed by {needed_by})"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        super().__init__(msg)


class CircularDependencyError(ContainerError):
    """Resolving a service needs that same service again. The message shows the path."""

    reason = "cycle"

    def __init__(self, path: Sequence[Hashable]) -> None:
        self.path = tuple(path)
        super().__init__("circular dependency: " + " -> ".join(key_name(k) for k in path))


class CaptiveDependencyError(ContainerError):
    """A singleton would capture a scoped service and outlive the scope that owns it."""

    reason = "captive"

    def __init__(self, path: Sequence[Hashable]) -> None:
        self.path = tuple(path)
        super().__init__(
            "captive dependency: singleton "
            f"{key_name(path[0])!r} depends on scoped {key_name(path[-1])!r} via "
            + " -> ".join(key_name(k) for k in path)
            + "; make the consumer scoped or the dependency a singleton"
        )


class ScopeRequiredError(ContainerError):
    """A scoped service was resolved outside any scope."""

    reason = "scope_required"

    def __init__(self, key: Hashable) -> None:
        self.key = key
        super().__init__(
            f"{key_name(key)!r} is scoped: resolve it inside `with container.scope() as s:`"
        )


class ContainerDisposedError(ContainerError):
    """The container or scope was disposed and can no longer create services."""

    reason = "disposed"

    def __init__(self, what: str = "container") -> None:
        super().__init__(f"the {what} has been disposed")


class ServiceCreationError(ContainerError):
    """A factory raised. The factory's exception is the ``__cause__``."""

    reason = "factory_error"

    def __init__(self, key: Hashable, exc: BaseException) -> None:
        self.key = key
        super().__init__(f"creating {key_name(key)!r} failed: {type(exc).__name__}: {exc}")


class CleanupTimeoutError(ContainerError, TimeoutError):
    """A service's cleanup did not finish within its timeout and was abandoned."""

    reason = "cleanup_timeout"

    def __init__(self, key: Hashable, timeout: float) -> None:
        self.key = key
        super().__init__(f"cleanup of {key_name(key)!r} did not finish within {timeout:g}s")


class DisposeError(ExceptionGroup[Exception]):
    """Every cleanup that failed during one ``dispose()``, reported together.

    Attributes:
        failed_keys: The services whose cleanup failed, in the order they ran.
    """

    failed_keys: tuple[Hashable, ...]

    def __new__(cls, failures: Sequence[tuple[Hashable, Exception]]) -> DisposeError:
        names = ", ".join(key_name(k) for k, _ in failures)
        self = super().__new__(cls, f"cleanup failed for: {names}", [e for _, e in failures])
        self.failed_keys = tuple(k for k, _ in failures)
        return self

    def __init__(self, failures: Sequence[tuple[Hashable, Exception]]) -> None:
        names = ", ".join(key_name(k) for k, _ in failures)
        super().__init__(f"cleanup failed for: {names}", [e for _, e in failures])

    def derive(self, excs: Sequence[Exception]) -> DisposeError:  # type: ignore[override]
        return DisposeError([(k, e) for k, e in zip(self.failed_keys, excs, strict=False)])
