"""The rate governor shared through Redis, on real Redis servers.

Two governors stand for two processes: each has its own connection, clock
and metrics, and they share only the Redis hash of the host. The processes
themselves are in ``tests/workers/test_shared_governor.py``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from structlog.testing import capture_logs

from flext_infra.http import QuotaExhaustedError, RedisRateGovernor, Response
from flext_infra.http._observe import HttpMetrics, Waits
from tests.conftest import REDIS_URL

HOST = "api.example:443"

MakeGovernor = Callable[..., RedisRateGovernor]


@pytest.fixture
def make_governor(redis_prefix: str) -> Iterator[MakeGovernor]:
    """Governors on the test Redis under this test's prefix, closed afterwards."""
    made: list[RedisRateGovernor] = []

    def make(url: str = REDIS_URL, **options: object) -> RedisRateGovernor:
        values: dict[str, object] = {
            "key_prefix": redis_prefix,
            "rate": None,
            "burst": 1,
            "waits": Waits(),
            "metrics": HttpMetrics(),
        }
        values.update(options)
        governor = RedisRateGovernor(url, **values)  # type: ignore[arg-type]
        made.append(governor)
        return governor

    yield make
    for governor in made:
        governor.close()


def test_two_governors_space_their_requests_as_one(make_governor: MakeGovernor) -> None:
    """At 20/s, ten requests taken in turn by two governors span 9 intervals (0.45 s)."""
    first, second = make_governor(rate=20.0), make_governor(rate=20.0)
    started = time.monotonic()
    for i in range(10):
        (first if i % 2 else second).acquire(HOST)
    elapsed = time.monotonic() - started
    assert 0.44 <= elapsed < 0.7, elapsed


def test_a_burst_passes_at_once_for_all_then_paces(make_governor: MakeGovernor) -> None:
    """Burst 3 shared: the first three requests of either governor do not wait, the 4th does."""
    first, second = make_governor(rate=10.0, burst=3), make_governor(rate=10.0, burst=3)
    waits = [first.acquire(HOST), second.acquire(HOST), first.acquire(HOST)]
    assert waits == [0.0, 0.0, 0.0]
    assert second.acquire(HOST) == pytest.approx(0.1, abs=0.03)


def test_a_pause_learnt_by_one_holds_the_other(make_governor: MakeGovernor) -> None:
    """A 429 with Retry-After: 1 observed by one governor makes the other wait about 1 s."""
    first, second = make_governor(), make_governor()
    first.observe(HOST, Response(429, headers={"Retry-After": "1"}))
    started = time.monotonic()
    second.acquire(HOST)
    assert 0.9 <= time.monotonic() - started < 1.5


def test_a_pause_learnt_while_sleeping_for_a_slot_holds_that_request(
    make_governor: MakeGovernor,
) -> None:
    """A request already waiting for its slot looks again before sending, and waits out
    a pause another process learnt meanwhile."""
    first, second = make_governor(rate=2.0), make_governor(rate=2.0)
    first.acquire(HOST)  # the next slot is 0.5 s away
    started = time.monotonic()
    timer = threading.Timer(0.1, lambda: first.hold(HOST, 1.0, "graphql-cost"))
    timer.start()
    second.acquire(HOST)
    timer.join()
    assert time.monotonic() - started >= 1.05


def test_the_servers_policy_rate_is_adopted_by_every_governor(make_governor: MakeGovernor) -> None:
    """RateLimit-Policy q=5;w=1 seen by one governor paces the other at 5/s."""
    first, second = make_governor(rate=100.0), make_governor(rate=100.0)
    first.observe(HOST, Response(200, headers={"RateLimit-Policy": '"p";q=5;w=1'}))
    second.acquire(HOST)
    assert second.acquire(HOST) == pytest.approx(0.2, abs=0.05)


def test_a_spent_quota_stops_every_governor_without_sending(make_governor: MakeGovernor) -> None:
    """A Retry-After beyond max_quota_wait_s spends the quota for both, with when to resume."""
    first = make_governor(max_quota_wait_s=5.0)
    second = make_governor(max_quota_wait_s=5.0)
    first.observe(HOST, Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(QuotaExhaustedError) as caught:
        second.acquire(HOST, url="/entity/allocation/")
    assert 3590 < caught.value.retry_in_s <= 3600
    assert caught.value.source == "retry-after"
    with pytest.raises(QuotaExhaustedError):
        second.check(HOST, attempts=1)


def test_hosts_do_not_share_a_budget(make_governor: MakeGovernor) -> None:
    """A pause on one host leaves another host's requests alone."""
    governor = make_governor()
    governor.hold(HOST, 5.0, "test")
    assert governor.acquire("other.example:443") == 0.0


def test_a_bad_url_is_a_configuration_error() -> None:
    """Only Redis URLs are accepted, and the message names the URL without its password."""
    from flext_infra import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        RedisRateGovernor(
            "http://:pw-4411@127.0.0.1:6379", key_prefix="x", rate=1.0, burst=1,
            waits=Waits(), metrics=HttpMetrics(),
        )  # fmt: skip
    assert "pw-4411" not in str(caught.value)


# ------------------------------------------------------------ a Redis that dies
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test may stop and restart."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (.ci/run installs it)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_a_redis_that_dies_mid_run_hands_over_to_the_local_share_and_back(
    private_redis: PrivateRedis, make_governor: MakeGovernor
) -> None:
    """Redis stops: the next request is paced locally at rate / expected_workers, the log
    says so and the alert is raised once; Redis returns: the shared bucket is used again."""
    alerts: list[str] = []
    governor = make_governor(
        private_redis.url, rate=40.0, expected_workers=4, on_fallback=alerts.append, retry_s=0.3
    )
    governor.acquire(HOST)
    assert governor.shared

    with capture_logs() as events:
        private_redis.stop()
        started = time.monotonic()
        for _ in range(3):
            governor.acquire(HOST)  # local, 10/s: the 2nd and 3rd wait 0.1 s each
        assert not governor.shared
        assert 0.18 <= time.monotonic() - started < 1.0
        assert len(alerts) == 1 and "locally at 10.0 requests/s" in alerts[0]

        private_redis.start()
        time.sleep(0.35)
        governor.acquire(HOST)
        assert governor.shared
        private_redis.stop()
        time.sleep(0.35)
        governor.acquire(HOST)  # a second spell: logged again, alerted only once per process
        assert len(alerts) == 1
    names = [e["event"] for e in events]
    assert names.count("http.rate_limit.redis_unavailable") == 2
    assert names.count("http.rate_limit.redis_restored") == 1
    down = next(e for e in events if e["event"] == "http.rate_limit.redis_unavailable")
    assert down["rate_per_s"] == 10.0 and down["expected_workers"] == 4
