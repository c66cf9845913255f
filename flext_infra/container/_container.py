"""The dependency-injection container: registrations, lifetimes, scopes and cleanup.

The design follows hynek/svcs: the root :class:`Container` holds the recipes
(registrations) and the app-wide instances (singletons); a :class:`Scope`, one
per run, stream or batch, holds what it created and cleans it up when it ends.

Factories declare their dependencies as parameters. A parameter is resolved by
its type annotation when that type is registered, otherwise by its name. That
is how :meth:`Container.validate` knows the whole graph without calling any
factory. A parameter annotated ``Container``/``Scope``/``Resolver`` (or named
``container``) receives the resolver itself, in the upstream
``create_etl_orchestrator(container)`` style.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload, runtime_checkable

from flext_infra._result import Result
from flext_infra.container._errors import (
    CaptiveDependencyError,
    CircularDependencyError,
    CleanupTimeoutError,
    ContainerDisposedError,
    ContainerError,
    DisposeError,
    ScopeRequiredError,
    ServiceCreationError,
    ServiceNotFoundError,
    key_name,
)

if TYPE_CHECKING:
    from flext_infra._environment import Environment

T = TypeVar("T")
Key = Hashable
Cleanup = Callable[[Any], object]

_NO_INSTANCE: Any = object()


class Lifetime(StrEnum):
    """How long a created service lives."""

    SINGLETON = "singleton"
    SCOPED = "scoped"
    TRANSIENT = "transient"


@runtime_checkable
class Resolver(Protocol):
    """What a factory may ask for to resolve services itself: a container or a scope."""

    def resolve(self, key: Any) -> Any: ...

    def try_resolve(self, key: Any) -> Result[Any]: ...


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    annotation: Any
    has_default: bool
    wants_resolver: bool


@dataclass(eq=False, slots=True)
class Registration:
    """One recipe: how to make a service, how long it lives and how to clean it up."""

    key: Key
    lifetime: Lifetime
    factory: Callable[..., Any] | None
    instance: Any = _NO_INSTANCE
    cleanup: Cleanup | None = None
    cleanup_timeout: float | None = None
    params: tuple[_Param, ...] = ()

    @property
    def name(self) -> str:
        return key_name(self.key)


@dataclass(slots=True)
class _Created:
    key: Key
    instance: Any
    cleanup: Cleanup
    timeout: float | None


@dataclass(frozen=True, slots=True)
class MissingDependency:
    """A factory parameter that nothing registered can satisfy."""

    service: str
    parameter: str
    annotation: str | None = None

    def __str__(self) -> str:
        if self.annotation is not None:
            return (
                f"{self.service!r} needs {self.parameter!r} annotated {self.annotation!r}, "
                "which cannot be evaluated and names no single registered type"
            )
        return f"{self.service!r} needs {self.parameter!r}, which is not registered"


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What :meth:`Container.validate` found. Building it creates no service."""

    services: tuple[str, ...]
    missing: tuple[MissingDependency, ...] = ()
    cycles: tuple[tuple[str, ...], ...] = ()
    captive: tuple[tuple[str, ...], ...] = ()
    dynamic: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the graph has no missing dependency, cycle or captive dependency."""
        return not (self.missing or self.cycles or self.captive)

    def problems(self) -> list[str]:
        """One readable line per problem."""
        lines = [f"missing: {m}" for m in self.missing]
        lines += ["cycle: " + " -> ".join(c) for c in self.cycles]
        lines += [
            f"captive: singleton {c[0]!r} depends on scoped {c[-1]!r} via " + " -> ".join(c)
            for c in self.captive
        ]
        return lines

    def to_result(self) -> Result[ValidationReport]:
        """The report as a ``Result``: a failure lists every problem."""
        if self.ok:
            return Result.ok(self)
        return Result.fail("; ".join(self.problems()), reason="invalid_graph")


def _is_factory(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, functools.partial)


def _is_resolver_annotation(annotation: Any) -> bool:
    return annotation in (Container, Scope, Resolver) or annotation in (
        "Container",
        "Scope",
        "Resolver",
    )


def _namespace(factory: Callable[..., Any]) -> dict[str, Any]:
    target: Any = factory.func if isinstance(factory, functools.partial) else factory
    if inspect.isclass(target):
        target = target.__init__
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    return {**(vars(module) if module else {}), **getattr(target, "__globals__", {})}


def _evaluate(annotation: Any, namespace: dict[str, Any]) -> Any:
    """A string annotation evaluated, or kept as the string when it cannot be.

    One parameter at a time, so that one unevaluable annotation (a class defined
    inside a function under ``from __future__ import annotations``, a name
    imported only under TYPE_CHECKING) leaves the others evaluated.
    """
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, namespace)  # noqa: S307 - what inspect's eval_str does
    except Exception:
        return annotation


def _inspect_params(factory: Callable[..., Any]) -> tuple[_Param, ...]:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature
        return ()
    namespace = _namespace(factory)
    params = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = None if p.annotation is p.empty else _evaluate(p.annotation, namespace)
        wants = _is_resolver_annotation(annotation) or (
            annotation is None and p.name == "container"
        )
        params.append(_Param(p.name, annotation, p.default is not p.empty, wants))
    return tuple(params)


def _finish_generator(gen: Generator[Any, None, None]) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    raise RuntimeError("a generator factory must yield exactly once")


def _run_cleanup(entry: _Created) -> None:
    if entry.timeout is None:
        entry.cleanup(entry.instance)
        return
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            entry.cleanup(entry.instance)
        except BaseException as exc:  # reported to the disposing thread below
            outcome.append(exc)

    worker = threading.Thread(target=target, name=f"cleanup:{key_name(entry.key)}", daemon=True)
    worker.start()
    worker.join(entry.timeout)
    if worker.is_alive():
        raise CleanupTimeoutError(entry.key, entry.timeout)
    if outcome:
        raise outcome[0]


def _close_all(entries: list[_Created]) -> list[tuple[Key, Exception]]:
    """Run cleanups in reverse creation order, collecting (never stopping on) failures."""
    failures: list[tuple[Key, Exception]] = []
    while entries:
        entry = entries.pop()
        try:
            _run_cleanup(entry)
        except DisposeError as group:  # a scope closed by its container
            failures.extend(zip(group.failed_keys, group.exceptions, strict=False))
        except Exception as exc:
            failures.append((entry.key, exc))
    return failures


class _Owner:
    """State shared by the container and its scopes: what they created, and disposal."""

    _what = "container"

    def __init__(self) -> None:
        self._created: list[_Created] = []
        self._disposed = False
        self._owner_lock = threading.RLock()

    def _track(self, key: Key, instance: Any, cleanup: Cleanup, timeout: float | None) -> None:
        with self._owner_lock:
            self._created.append(_Created(key, instance, cleanup, timeout))

    def _untrack(self, instance: Any) -> None:
        with self._owner_lock:
            self._created = [e for e in self._created if e.instance is not instance]

    def _dispose_owned(self) -> None:
        with self._owner_lock:
            if self._disposed:
                return
            self._disposed = True
            entries, self._created = self._created, []
        failures = _close_all(entries)
        if failures:
            raise DisposeError(failures)

    def __del__(self) -> None:
        if getattr(self, "_disposed", True) or not getattr(self, "_created", None):
            return
        names = ", ".join(key_name(e.key) for e in self._created)
        warnings.warn(
            f"{self._what} garbage-collected without dispose(); undisposed: {names}",
            ResourceWarning,
            stacklevel=1,
            source=self,
        )


class Container(_Owner):
    """The application-wide registry of services and the owner of singletons.

    Example:
        >>> c = Container()
        >>> c.register_singleton("settings", {"dsn": "sqlite://"})
        >>> c.register_transient("dsn", lambda settings: settings["dsn"])
        >>> c.resolve("dsn")
        'sqlite://'
        >>> c.dispose()
    """

    def __init__(self, *, cleanup_timeout: float | None = None) -> None:
        super().__init__()
        self.cleanup_timeout = cleanup_timeout
        self.environment: Environment | None = None
        self._registry: dict[Key, Registration] = {}
        self._singletons: dict[int, Any] = {}
        self._singleton_lock = threading.RLock()
        self._local = threading.local()

    # ----------------------------------------------------------------- registration
    def register_singleton(
        self,
        key: Key,
        factory_or_instance: Any,
        *,
        cleanup: Cleanup | None = None,
        cleanup_timeout: float | None = None,
        aliases: Iterable[Key] = (),
    ) -> None:
        """Register one instance for the container's whole life.

        ``factory_or_instance`` is a class, function or partial (called once, on
        first resolve) or a ready instance. ``cleanup`` runs on ``dispose()``.
        """
        if _is_factory(factory_or_instance):
            self._register(
                key, Lifetime.SINGLETON, factory_or_instance, cleanup, cleanup_timeout, aliases
            )
            return
        reg = Registration(
            key, Lifetime.SINGLETON, None, instance=factory_or_instance, cleanup=cleanup
        )
        self._add(reg, aliases)
        if cleanup is not None:
            self._track(key, factory_or_instance, cleanup, self._timeout_for(reg))

    def register_scoped(
        self,
        key: Key,
        factory: Callable[..., Any],
        *,
        cleanup: Cleanup | None = None,
        cleanup_timeout: float | None = None,
        aliases: Iterable[Key] = (),
    ) -> None:
        """Register a service created once per :meth:`scope` and cleaned up when it ends."""
        self._register(key, Lifetime.SCOPED, factory, cleanup, cleanup_timeout, aliases)

    def register_transient(
        self, key: Key, factory: Callable[..., Any], *, aliases: Iterable[Key] = ()
    ) -> None:
        """Register a service created anew on every resolve.

        A generator or context-manager factory still gets its cleanup: inside a
        scope when the scope ends, otherwise when the container is disposed.
        """
        self._register(key, Lifetime.TRANSIENT, factory, None, None, aliases)

    def _register(
        self,
        key: Key,
        lifetime: Lifetime,
        factory: Callable[..., Any],
        cleanup: Cleanup | None,
        cleanup_timeout: float | None,
        aliases: Iterable[Key],
    ) -> None:
        if not callable(factory):
            raise TypeError(f"the factory for {key_name(key)!r} is not callable: {factory!r}")
        reg = Registration(
            key, lifetime, factory, cleanup=cleanup, cleanup_timeout=cleanup_timeout,
            params=_inspect_params(factory),
        )  # fmt: skip
        self._add(reg, aliases)

    def _add(self, reg: Registration, aliases: Iterable[Key]) -> None:
        if self._disposed:
            raise ContainerDisposedError()
        with self._singleton_lock:
            for k in (reg.key, *aliases):
                self._registry[k] = reg

    def is_registered(self, key: Key) -> bool:
        """True when a service is registered under ``key``."""
        return key in self._registry

    @property
    def keys(self) -> tuple[Key, ...]:
        """Every registered key, names and types alike."""
        return tuple(self._registry)

    def _timeout_for(self, reg: Registration) -> float | None:
        return reg.cleanup_timeout if reg.cleanup_timeout is not None else self.cleanup_timeout

    # ------------------------------------------------------------------- resolution
    @overload
    def resolve(self, key: type[T]) -> T: ...
    @overload
    def resolve(self, key: Key) -> Any: ...
    def resolve(self, key: Any) -> Any:
        """Return the service registered under ``key``, creating it if needed.

        Raises:
            ServiceNotFoundError: nothing is registered under ``key``.
            CircularDependencyError: the service depends on itself.
            CaptiveDependencyError: a singleton depends on a scoped service.
            ScopeRequiredError: a scoped service was asked for outside a scope.
            ContainerDisposedError: the container was disposed.
            ServiceCreationError: a factory raised.
        """
        return self._resolve(key, None)

    def try_resolve(self, key: Key) -> Result[Any]:
        """Like :meth:`resolve`, but a container error becomes a failed ``Result``.

        The result's ``reason`` says why: ``not_registered``, ``cycle``,
        ``captive``, ``scope_required``, ``disposed`` or ``factory_error``.
        """
        return _try(self.resolve, key)

    def _stack(self) -> list[Registration]:
        stack: list[Registration] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _resolve(self, key: Key, scope: Scope | None, needed_by: str = "") -> Any:
        if self._disposed or (scope is not None and scope._disposed):
            raise ContainerDisposedError(
                "scope" if scope is not None and not self._disposed else "container"
            )
        reg = self._registry.get(key)
        if reg is None:
            raise ServiceNotFoundError(key, self._registry, needed_by=needed_by)
        stack = self._stack()
        if any(r is reg for r in stack):
            raise CircularDependencyError([r.key for r in stack] + [reg.key])
        if reg.lifetime is Lifetime.SINGLETON:
            return self._singleton(reg)
        if reg.lifetime is Lifetime.SCOPED:
            for i, r in enumerate(stack):
                if r.lifetime is Lifetime.SINGLETON:
                    raise CaptiveDependencyError([x.key for x in stack[i:]] + [reg.key])
            if scope is None:
                raise ScopeRequiredError(key)
            return scope._scoped(reg)
        owner: _Owner = scope if scope is not None else self
        return self._create(reg, scope, owner)

    def _singleton(self, reg: Registration) -> Any:
        if reg.instance is not _NO_INSTANCE:
            return reg.instance
        found = self._singletons.get(id(reg), _NO_INSTANCE)
        if found is not _NO_INSTANCE:
            return found
        # One lock for all singleton creation: simple, and no lock-order deadlocks
        # between singletons that depend on each other.
        with self._singleton_lock:
            found = self._singletons.get(id(reg), _NO_INSTANCE)
            if found is _NO_INSTANCE:
                found = self._create(reg, None, self)
                self._singletons[id(reg)] = found
            return found

    def _create(self, reg: Registration, scope: Scope | None, owner: _Owner) -> Any:
        resolver: Container | Scope = scope if scope is not None else self
        stack = self._stack()
        stack.append(reg)
        try:
            kwargs = {}
            for p in reg.params:
                if p.wants_resolver:
                    kwargs[p.name] = resolver
                    continue
                dep = self._dependency_key(p)
                if dep is None:
                    if p.has_default:
                        continue
                    raise self._not_found(p, reg.name)
                kwargs[p.name] = self._resolve(dep, scope, reg.name)
            assert reg.factory is not None
            try:
                result = reg.factory(**kwargs)
            except ContainerError:
                raise
            except Exception as exc:
                raise ServiceCreationError(reg.key, exc) from exc
            instance, cleanup = self._adopt(reg, result)
        finally:
            stack.pop()
        if cleanup is not None:
            owner._track(reg.key, instance, cleanup, self._timeout_for(reg))
        return instance

    @staticmethod
    def _adopt(reg: Registration, result: Any) -> tuple[Any, Cleanup | None]:
        """Turn a factory's result into (instance, cleanup)."""
        if reg.cleanup is not None:
            return result, reg.cleanup
        if inspect.isgenerator(result):
            try:
                instance = next(result)
            except Exception as exc:
                raise ServiceCreationError(reg.key, exc) from exc
            return instance, lambda _inst, gen=result: _finish_generator(gen)
        if inspect.isgeneratorfunction(getattr(reg.factory, "__wrapped__", None)):
            # A @contextmanager factory: enter it; the instance is what it yields.
            try:
                instance = result.__enter__()
            except Exception as exc:
                raise ServiceCreationError(reg.key, exc) from exc
            return instance, lambda _inst, cm=result: cm.__exit__(None, None, None)
        if callable(getattr(result, "close", None)) and hasattr(result, "__exit__"):
            # A closeable resource (httpx.Client, an engine wrapper): exit it on cleanup.
            # Not entered: entering arbitrary context managers has side effects
            # (a Lock would be acquired; Path.__enter__ is deprecated).
            return result, lambda inst: inst.__exit__(None, None, None)
        return result, None

    def _dependency_key(self, p: _Param) -> Key | None:
        if isinstance(p.annotation, type) and p.annotation in self._registry:
            return p.annotation
        if isinstance(p.annotation, str):
            # Not evaluable: match its name against the registered types, if one alone fits.
            name = p.annotation.strip("'\" ").rsplit(".", 1)[-1]
            found = [k for k in self._registry if isinstance(k, type) and k.__name__ == name]
            if len(found) == 1:
                return found[0]
        if p.name in self._registry:
            return p.name
        return None

    def _not_found(self, p: _Param, needed_by: str) -> ServiceNotFoundError:
        annotation = p.annotation if isinstance(p.annotation, str) else None
        return ServiceNotFoundError(
            p.name, self._registry, needed_by=needed_by, annotation=annotation
        )

    # ------------------------------------------------------------------------ scopes
    def scope(self) -> Scope:
        """A child scope for one run, stream or batch. Use it as a context manager."""
        if self._disposed:
            raise ContainerDisposedError()
        s = Scope(self)
        self._track("<scope>", s, lambda sc: sc.close(), None)
        return s

    # ----------------------------------------------------------------------- dispose
    def dispose(self) -> None:
        """Clean up every created service and open scope, newest first.

        Keeps going past failures and raises one :class:`DisposeError` naming
        every service whose cleanup failed. A second call does nothing.
        """
        try:
            self._dispose_owned()
        finally:
            self._singletons.clear()

    @property
    def disposed(self) -> bool:
        """True once :meth:`dispose` has run."""
        return self._disposed

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    # ------------------------------------------------------------------ inspection
    def validate(self) -> ValidationReport:
        """Check the whole graph (missing, cycles, captive) without creating anything."""
        regs = {id(r): r for r in self._registry.values()}
        edges: dict[int, list[Registration]] = {}
        missing: list[MissingDependency] = []
        dynamic: list[str] = []
        for rid, reg in regs.items():
            deps = edges[rid] = []
            for p in reg.params:
                if p.wants_resolver:
                    dynamic.append(reg.name)
                    continue
                dep = self._dependency_key(p)
                if dep is not None:
                    deps.append(self._registry[dep])
                elif not p.has_default:
                    annotation = p.annotation if isinstance(p.annotation, str) else None
                    missing.append(MissingDependency(reg.name, p.name, annotation))
        cycles = _find_cycles(regs, edges)
        captive = _find_captive(regs, edges)
        return ValidationReport(
            services=tuple(sorted(r.name for r in regs.values())),
            missing=tuple(missing),
            cycles=tuple(tuple(r.name for r in c) for c in cycles),
            captive=tuple(tuple(r.name for r in c) for c in captive),
            dynamic=tuple(dynamic),
        )

    def health(self) -> dict[str, Result[Any]]:
        """Call ``health()`` on every created singleton that has one.

        A health method may return a ``Result``, a bool, or raise; all become a
        ``Result`` here so that one broken service cannot hide the others.
        """
        seen: dict[str, Result[Any]] = {}
        with self._singleton_lock:
            created = [
                (r, r.instance if r.instance is not _NO_INSTANCE else self._singletons.get(id(r)))
                for r in {id(r): r for r in self._registry.values()}.values()
                if r.lifetime is Lifetime.SINGLETON
                and (r.instance is not _NO_INSTANCE or id(r) in self._singletons)
            ]
        for reg, instance in created:
            check = getattr(instance, "health", None)
            if not callable(check) or isinstance(instance, Container):
                continue
            seen[reg.name] = _health_of(check)
        return seen

    @contextlib.contextmanager
    def override(self, key: Key, replacement: Any) -> Iterator[Any]:
        """Temporarily replace a service (tests). The original comes back on exit.

        ``replacement`` is used as the instance for ``key`` and every alias of
        its registration. Neither the original's instance nor its cleanup is
        touched.
        """
        original = self._registry.get(key)
        keys = [k for k, r in self._registry.items() if r is original] if original else [key]
        stand_in = Registration(key, Lifetime.SINGLETON, None, instance=replacement)
        with self._singleton_lock:
            for k in keys:
                self._registry[k] = stand_in
        try:
            yield replacement
        finally:
            with self._singleton_lock:
                for k in keys:
                    if original is None:
                        self._registry.pop(k, None)
                    else:
                        self._registry[k] = original


class Scope(_Owner):
    """A child of a :class:`Container` holding scoped services for one unit of work."""

    _what = "scope"

    def __init__(self, container: Container) -> None:
        super().__init__()
        self.container = container
        self._instances: dict[int, Any] = {}
        self._lock = threading.RLock()

    @overload
    def resolve(self, key: type[T]) -> T: ...
    @overload
    def resolve(self, key: Key) -> Any: ...
    def resolve(self, key: Any) -> Any:
        """Resolve ``key``: scoped services once per scope, the rest as the container does."""
        return self.container._resolve(key, self)

    def try_resolve(self, key: Key) -> Result[Any]:
        """Like :meth:`resolve`, but a container error becomes a failed ``Result``."""
        return _try(self.resolve, key)

    def _scoped(self, reg: Registration) -> Any:
        with self._lock:
            found = self._instances.get(id(reg), _NO_INSTANCE)
            if found is _NO_INSTANCE:
                found = self.container._create(reg, self, self)
                self._instances[id(reg)] = found
            return found

    def close(self) -> None:
        """Clean up what this scope created, newest first. A second call does nothing."""
        try:
            self._dispose_owned()
        finally:
            self._instances.clear()
            self.container._untrack(self)

    dispose = close

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _try(resolve: Callable[[Key], Any], key: Key) -> Result[Any]:
    try:
        return Result.ok(resolve(key))
    except ContainerError as exc:
        return Result.fail(str(exc), reason=exc.reason, cause=exc)


def _health_of(check: Callable[[], Any]) -> Result[Any]:
    try:
        outcome = check()
    except Exception as exc:
        return Result.fail(f"{type(exc).__name__}: {exc}", reason="health_check_raised", cause=exc)
    if isinstance(outcome, Result):
        return outcome
    if outcome is False:
        return Result.fail("health check returned False", reason="unhealthy")
    return Result.ok(outcome)


def _find_cycles(
    regs: dict[int, Registration], edges: dict[int, list[Registration]]
) -> list[list[Registration]]:
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(regs, white)
    cycles: list[list[Registration]] = []
    path: list[Registration] = []

    def visit(reg: Registration) -> None:
        color[id(reg)] = grey
        path.append(reg)
        for dep in edges.get(id(reg), []):
            if color.get(id(dep)) == grey:
                start = next(i for i, r in enumerate(path) if r is dep)
                cycles.append([*path[start:], dep])
            elif color.get(id(dep)) == white:
                visit(dep)
        path.pop()
        color[id(reg)] = black

    for reg in regs.values():
        if color[id(reg)] == white:
            visit(reg)
    return cycles


def _find_captive(
    regs: dict[int, Registration], edges: dict[int, list[Registration]]
) -> list[list[Registration]]:
    """Paths singleton -> (transient)* -> scoped."""
    found: list[list[Registration]] = []

    def walk(path: list[Registration]) -> None:
        for dep in edges.get(id(path[-1]), []):
            if any(dep is r for r in path):
                continue  # cycles are reported separately
            if dep.lifetime is Lifetime.SCOPED:
                found.append([*path, dep])
            elif dep.lifetime is Lifetime.TRANSIENT:
                walk([*path, dep])

    for reg in regs.values():
        if reg.lifetime is Lifetime.SINGLETON:
            walk([reg])
    return found
