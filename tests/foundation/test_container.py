"""The dependency-injection container: lifetimes, dependencies, cleanup and errors."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flext_infra import (
    CaptiveDependencyError,
    CircularDependencyError,
    CleanupTimeoutError,
    Container,
    ContainerDisposedError,
    DisposeError,
    Result,
    ScopeRequiredError,
    ServiceCreationError,
    ServiceNotFoundError,
)


class Recorder:
    """Records the order in which things happened."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def closer(self, name: str) -> Any:
        return lambda _instance: self.events.append(name)


@pytest.fixture
def container() -> Iterator[Container]:
    c = Container()
    yield c
    with contextlib.suppress(DisposeError):
        c.dispose()


class Database:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn


class Repository:
    def __init__(self, db: Database, table: str) -> None:
        self.db = db
        self.table = table


def test_singleton_identity(container: Container) -> None:
    """A singleton factory runs once and every resolve returns the same instance."""
    calls = []
    container.register_singleton("svc", lambda: calls.append(1) or object())
    assert container.resolve("svc") is container.resolve("svc")
    assert len(calls) == 1


def test_singleton_instance_registration(container: Container) -> None:
    """A ready instance registered as a singleton is returned as is."""
    settings = {"a": 1}
    container.register_singleton("settings", settings)
    assert container.resolve("settings") is settings


def test_transient_distinctness(container: Container) -> None:
    """A transient is created anew on every resolve."""
    container.register_transient("t", object)
    assert container.resolve("t") is not container.resolve("t")


def test_scoped_per_scope(container: Container) -> None:
    """A scoped service is shared inside one scope and distinct across scopes."""
    container.register_scoped("unit", object)
    with container.scope() as s1, container.scope() as s2:
        assert s1.resolve("unit") is s1.resolve("unit")
        assert s1.resolve("unit") is not s2.resolve("unit")


def test_scoped_outside_scope_is_refused(container: Container) -> None:
    """Resolving a scoped service from the root container says a scope is needed."""
    container.register_scoped("unit", object)
    with pytest.raises(ScopeRequiredError, match="scope"):
        container.resolve("unit")


def test_dependencies_by_parameter_name(container: Container) -> None:
    """A factory parameter is resolved by its name."""
    container.register_singleton("dsn", "sqlite://")
    container.register_singleton("db", Database)
    assert container.resolve("db").dsn == "sqlite://"


def test_dependencies_by_type_annotation(container: Container) -> None:
    """A parameter annotated with a registered type is resolved by that type."""
    container.register_singleton("dsn", "pg://")
    container.register_singleton(Database, Database)
    container.register_singleton("table", "orders")
    container.register_transient(Repository, Repository)
    repo = container.resolve(Repository)
    assert isinstance(repo, Repository)
    assert repo.db is container.resolve(Database)
    assert repo.table == "orders"


def test_service_under_name_and_type(container: Container) -> None:
    """One registration can answer to a name and a type with one instance."""
    container.register_singleton("dsn", "x")
    container.register_singleton("database", Database, aliases=(Database,))
    assert container.resolve("database") is container.resolve(Database)


def test_factory_may_take_the_container(container: Container) -> None:
    """A factory asking for the container receives it (upstream style)."""

    def create_orchestrator(container: Container) -> tuple[str, Any]:
        return ("orchestrator", container.resolve("dsn"))

    container.register_singleton("dsn", "x")
    container.register_singleton("orchestrator", create_orchestrator)
    assert container.resolve("orchestrator") == ("orchestrator", "x")


def test_parameter_with_default_is_optional(container: Container) -> None:
    """An unregistered parameter with a default keeps its default."""
    container.register_singleton("svc", lambda retries=3: retries)
    assert container.resolve("svc") == 3


def test_generator_factory_cleaned_up(container: Container) -> None:
    """A generator factory's code after `yield` runs on dispose."""
    rec = Recorder()

    def resource() -> Iterator[str]:
        rec.events.append("open")
        yield "conn"
        rec.events.append("closed")

    container.register_singleton("conn", resource)
    assert container.resolve("conn") == "conn"
    assert rec.events == ["open"]
    container.dispose()
    assert rec.events == ["open", "closed"]


def test_context_manager_factory_cleaned_up(container: Container) -> None:
    """A factory returning a context manager is entered, and exited on dispose."""
    rec = Recorder()

    @contextlib.contextmanager
    def session() -> Iterator[str]:
        rec.events.append("enter")
        yield "session"
        rec.events.append("exit")

    container.register_singleton("session", session)
    assert container.resolve("session") == "session"
    container.dispose()
    assert rec.events == ["enter", "exit"]


def test_reverse_disposal_order_across_services(container: Container) -> None:
    """dispose() cleans up services newest first, across six services."""
    rec = Recorder()
    names = [f"s{i}" for i in range(6)]
    for name in names:
        container.register_singleton(name, object, cleanup=rec.closer(name))
    for name in [names[2], names[0], names[5], names[1], names[4], names[3]]:
        container.resolve(name)
    container.dispose()
    assert rec.events == ["s3", "s4", "s1", "s5", "s0", "s2"]


def test_dependents_are_disposed_before_their_dependencies(container: Container) -> None:
    """A service is created after its dependencies, so it is closed before them."""
    rec = Recorder()
    container.register_singleton("pool", object, cleanup=rec.closer("pool"))
    container.register_singleton("repo", lambda pool: object(), cleanup=rec.closer("repo"))
    container.register_singleton("job", lambda repo: object(), cleanup=rec.closer("job"))
    container.resolve("job")
    container.dispose()
    assert rec.events == ["job", "repo", "pool"]


def test_dispose_continues_past_failing_cleanups_and_reports_all(container: Container) -> None:
    """Two failing cleanups do not stop the others, and both are reported together."""
    rec = Recorder()

    def boom(name: str) -> Any:
        def cleanup(_instance: object) -> None:
            rec.events.append(name)
            raise RuntimeError(f"{name} failed")

        return cleanup

    container.register_singleton("a", object, cleanup=rec.closer("a"))
    container.register_singleton("b", object, cleanup=boom("b"))
    container.register_singleton("c", object, cleanup=rec.closer("c"))
    container.register_singleton("d", object, cleanup=boom("d"))
    for k in "abcd":
        container.resolve(k)
    with pytest.raises(DisposeError) as info:
        container.dispose()
    assert rec.events == ["d", "c", "b", "a"]
    assert set(info.value.failed_keys) == {"b", "d"}
    assert {str(e) for e in info.value.exceptions} == {"b failed", "d failed"}
    assert "b" in str(info.value) and "d" in str(info.value)


def test_dispose_twice_is_harmless(container: Container) -> None:
    """A second dispose() does nothing: no second cleanup, no error."""
    rec = Recorder()
    container.register_singleton("a", object, cleanup=rec.closer("a"))
    container.resolve("a")
    container.dispose()
    container.dispose()
    assert rec.events == ["a"]


def test_cleanup_timeout_abandons_a_hanging_cleanup() -> None:
    """A cleanup that hangs past its timeout is reported and the others still run."""
    rec = Recorder()
    release = threading.Event()
    c = Container()
    c.register_singleton("fast", object, cleanup=rec.closer("fast"))
    c.register_singleton("stuck", object, cleanup=lambda _i: release.wait(10), cleanup_timeout=0.2)
    c.resolve("fast")
    c.resolve("stuck")
    started = time.monotonic()
    with pytest.raises(DisposeError) as info:
        c.dispose()
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 2
    assert isinstance(info.value.exceptions[0], CleanupTimeoutError)
    assert info.value.failed_keys == ("stuck",)
    assert rec.events == ["fast"]


def test_scope_cleans_up_in_reverse_order_on_exit(container: Container) -> None:
    """Leaving a scope closes its scoped services and transients, newest first."""
    rec = Recorder()

    def transient() -> Iterator[str]:
        yield "t"
        rec.events.append("transient")

    container.register_scoped("first", object, cleanup=rec.closer("first"))
    container.register_scoped("second", object, cleanup=rec.closer("second"))
    container.register_transient("t", transient)
    with container.scope() as s:
        s.resolve("first")
        s.resolve("t")
        s.resolve("second")
    assert rec.events == ["second", "transient", "first"]


def test_dispose_closes_open_scopes(container: Container) -> None:
    """dispose() also closes a scope that was never exited."""
    rec = Recorder()
    container.register_scoped("unit", object, cleanup=rec.closer("unit"))
    scope = container.scope()
    scope.resolve("unit")
    container.dispose()
    assert rec.events == ["unit"]


def test_cycle_path_in_message(container: Container) -> None:
    """A cycle is reported with its whole path a -> b -> c -> a."""
    container.register_singleton("a", lambda b: 1)
    container.register_singleton("b", lambda c: 1)
    container.register_singleton("c", lambda a: 1)
    with pytest.raises(CircularDependencyError, match=r"a -> b -> c -> a") as info:
        container.resolve("a")
    assert info.value.path == ("a", "b", "c", "a")


def test_captive_dependency_detected(container: Container) -> None:
    """A singleton depending (through a transient) on a scoped service is refused."""
    container.register_scoped("session", object)
    container.register_transient("repo", lambda session: object())
    container.register_singleton("cache", lambda repo: object())
    with container.scope() as s, pytest.raises(CaptiveDependencyError, match="cache") as info:
        s.resolve("cache")
    assert info.value.path == ("cache", "repo", "session")


def test_service_not_found_suggests_close_names(container: Container) -> None:
    """An unknown key names itself and suggests registered keys that look alike."""
    container.register_singleton("oracle_manager", object)
    with pytest.raises(ServiceNotFoundError, match="did you mean 'oracle_manager'"):
        container.resolve("oracle_manger")


def test_factory_error_is_wrapped_with_cause(container: Container) -> None:
    """A failing factory raises ServiceCreationError chained to the original error."""

    def broken() -> None:
        raise ValueError("bad dsn")

    container.register_singleton("db", broken)
    with pytest.raises(ServiceCreationError, match="bad dsn") as info:
        container.resolve("db")
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize(
    ("setup", "key", "reason"),
    [
        (lambda c: None, "missing", "not_registered"),
        (
            lambda c: (
                c.register_singleton("x", lambda y: 1),
                c.register_singleton("y", lambda x: 1),
            ),
            "x",
            "cycle",
        ),
        (lambda c: c.register_singleton("f", lambda: 1 / 0), "f", "factory_error"),
        (lambda c: c.register_scoped("s", object), "s", "scope_required"),
    ],
    ids=["not_registered", "cycle", "factory_error", "scope_required"],
)
def test_try_resolve_reasons(container: Container, setup: Any, key: str, reason: str) -> None:
    """try_resolve returns a failed Result whose reason names the failure, never raising."""
    setup(container)
    result = container.try_resolve(key)
    assert isinstance(result, Result)
    assert result.is_failure
    assert result.reason == reason
    assert result.error


def test_try_resolve_reasons_captive_and_disposed(container: Container) -> None:
    """try_resolve also reports captive dependencies and a disposed container."""
    container.register_scoped("s", object)
    container.register_singleton("single", lambda s: 1)
    with container.scope() as scope:
        assert scope.try_resolve("single").reason == "captive"
    container.register_singleton("ok", lambda: 5)
    assert container.try_resolve("ok").unwrap() == 5
    container.dispose()
    assert container.try_resolve("ok").reason == "disposed"


def test_resolve_after_dispose(container: Container) -> None:
    """Resolving from a disposed container raises ContainerDisposedError."""
    container.register_singleton("a", object)
    container.resolve("a")
    container.dispose()
    with pytest.raises(ContainerDisposedError):
        container.resolve("a")


def test_resolve_in_closed_scope(container: Container) -> None:
    """Resolving from a closed scope raises ContainerDisposedError."""
    container.register_scoped("a", object)
    with container.scope() as s:
        pass
    with pytest.raises(ContainerDisposedError, match="scope"):
        s.resolve("a")


def test_eight_threads_create_a_singleton_once(container: Container) -> None:
    """Eight threads resolving a slow singleton at once run its factory exactly once."""
    calls: list[int] = []
    barrier = threading.Barrier(8)

    def slow() -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    container.register_singleton("slow", slow)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(container.resolve("slow"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 8
    assert all(r is results[0] for r in results)


def test_validate_finds_missing_dependency_without_calling_factories(
    container: Container,
) -> None:
    """validate() reports a missing dependency and creates nothing."""
    called: list[str] = []

    def repo(db: Any) -> None:
        called.append("repo")

    container.register_singleton("repo", repo)
    container.register_singleton("ok", lambda: called.append("ok"))
    report = container.validate()
    assert not report.ok
    assert [(m.service, m.parameter) for m in report.missing] == [("repo", "db")]
    assert called == []
    assert report.to_result().is_failure


def test_validate_finds_cycles_and_captives(container: Container) -> None:
    """validate() reports cycles with their path and captive dependencies."""
    container.register_singleton("a", lambda b: 1)
    container.register_singleton("b", lambda a: 1)
    container.register_scoped("scoped", object)
    container.register_singleton("captor", lambda scoped: 1)
    report = container.validate()
    assert ("a", "b", "a") in report.cycles
    assert ("captor", "scoped") in report.captive
    problems = "\n".join(report.problems())
    assert "a -> b -> a" in problems and "captor" in problems


def test_override_restores_the_original(container: Container) -> None:
    """override() swaps a service in a block and restores registration and instance."""
    container.register_singleton("dsn", "x")
    container.register_singleton("db", Database, aliases=(Database,))
    original = container.resolve("db")
    fake = Database("fake")
    with container.override("db", fake):
        assert container.resolve("db") is fake
        assert container.resolve(Database) is fake
    assert container.resolve("db") is original
    assert container.resolve(Database) is original


def test_health_reports_one_result_per_service(container: Container) -> None:
    """health() asks every created service with a health() and isolates failures."""

    class Good:
        def health(self) -> Result[str]:
            return Result.ok("fine")

    class Bad:
        def health(self) -> Result[str]:
            raise ConnectionError("down")

    container.register_singleton("good", Good)
    container.register_singleton("bad", Bad)
    container.register_singleton("never_created", Good)
    container.resolve("good")
    container.resolve("bad")
    report = container.health()
    assert set(report) == {"good", "bad"}
    assert report["good"].unwrap() == "fine"
    assert report["bad"].is_failure and "down" in (report["bad"].error or "")


def test_container_is_a_context_manager() -> None:
    """Leaving `with Container()` disposes it."""
    rec = Recorder()
    with Container() as c:
        c.register_singleton("a", object, cleanup=rec.closer("a"))
        c.resolve("a")
    assert rec.events == ["a"] and c.disposed


def test_undisposed_container_warns_on_collection() -> None:
    """A container collected with live services emits a ResourceWarning."""
    c = Container()
    c.register_singleton("a", object, cleanup=lambda _i: None)
    c.resolve("a")
    # `del` drops the last reference, so CPython finalizes the container right there.
    with pytest.warns(ResourceWarning, match="without dispose"):  # noqa: PT031
        del c
        gc.collect()


def test_closeable_resource_is_exited_on_dispose(container: Container) -> None:
    """A returned resource with close() and __exit__ is exited on dispose, not entered early."""
    rec = Recorder()

    class Client:
        def close(self) -> None:
            rec.events.append("close")

        def __enter__(self) -> Client:
            rec.events.append("enter")
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    container.register_singleton("client", Client)
    container.register_singleton("path", lambda: __import__("pathlib").Path("."))
    assert isinstance(container.resolve("client"), Client)
    container.resolve("path")  # a context manager without close(): left alone
    container.dispose()
    assert rec.events == ["close"]


def _local_class() -> type:
    class Local:
        """A class defined inside a function: its name is not in any module's namespace."""

    return Local


def test_an_unevaluable_annotation_matches_the_one_registered_type_of_that_name() -> None:
    """`p: Local` (a class made inside a function, annotations postponed) resolves by name."""
    local = _local_class()
    container = Container()
    container.register_singleton(local, local)

    def factory(p: Local) -> str:  # type: ignore[name-defined]  # noqa: F821
        return f"got {type(p).__name__}"

    container.register_singleton("user", factory)
    assert container.resolve("user") == "got Local"
    assert container.validate().ok


def test_an_unmatched_unevaluable_annotation_is_named_in_the_error() -> None:
    """Two registered types named Local (or none): the error names the annotation, not just p."""
    container = Container()
    first, second = _local_class(), _local_class()
    container.register_singleton(first, first)
    container.register_singleton(second, second)

    def factory(p: Local) -> str:  # type: ignore[name-defined]  # noqa: F821
        return "never"

    container.register_singleton("user", factory)
    with pytest.raises(ServiceNotFoundError, match=r"parameter 'p' annotated 'Local'"):
        container.resolve("user")
    [missing] = container.validate().missing
    assert "annotated 'Local'" in str(missing)
