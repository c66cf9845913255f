"""Must hold 1, 2 and 4: tap processes sharing one Redis share one API budget.

Each test runs real ``tap-flext-api`` processes at once against the sample API
and judges them by the server's own log (arrival times, 429s). Each also runs
the same processes without Redis, so that it shows what the shared governor
changes and could not pass by accident.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flext_infra.testing import SampleApi
from tests.conftest import REDIS_URL
from tests.tap.conftest import PASSWORD, TAP, USER, wms_config

RECORDS = 300
PAGE = 5  # 60 pages per entity
PAGES = RECORDS // PAGE
ENTITY_OF = {"a": "allocation", "b": "order_hdr"}


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample WMS API, answering in a few milliseconds."""
    with SampleApi(records=RECORDS, username=USER, password=PASSWORD) as server:
        yield server


@dataclass
class Tap:
    """One running tap process and what it printed."""

    name: str
    process: subprocess.Popen[str]
    stdout: str = ""
    stderr: str = ""

    def wait(self, timeout: float = 120) -> int:
        self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode

    def records(self) -> int:
        return sum(
            1 for line in self.stdout.splitlines() if json.loads(line).get("type") == "RECORD"
        )


def start_taps(
    api: SampleApi, tmp: Path, env: dict[str, str], names: tuple[str, ...] = ("a", "b")
) -> list[Tap]:
    """One tap per name, each reading its own entity, started together."""
    taps = []
    for name in names:
        where = tmp / name
        where.mkdir(parents=True, exist_ok=True)
        config = wms_config(
            api, entities=[ENTITY_OF[name]], page_size=PAGE, cache_enabled=False, max_concurrency=4
        )
        (where / "config.json").write_text(json.dumps(config))
        process = subprocess.Popen(
            [TAP, "--config", str(where / "config.json")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "FLEXT_DATA_DIR": str(where / "data"), **env},
        )
        taps.append(Tap(name, process))
    return taps


def finish(taps: list[Tap]) -> None:
    """Wait for every tap; each must have read its whole entity."""
    for tap in taps:
        code = tap.wait()
        assert code == 0, tap.stderr[-3000:]
        assert tap.records() == RECORDS, tap.stderr[-3000:]


def base_env(**extra: str) -> dict[str, str]:
    """Development (real waits), JSON logs, 20 requests/s per host."""
    return {
        "FLEXT_ENVIRONMENT": "development",
        "FLEXT_LOG_FORMAT": "json",
        "FLEXT_API_RATE_LIMIT_PER_SECOND": "20",
        **extra,
    }


def shared(prefix: str, url: str = REDIS_URL) -> dict[str, str]:
    return {"FLEXT_API_RATE_LIMIT_URL": url, "FLEXT_API_REDIS_KEY_PREFIX": prefix}


@pytest.mark.slow
def test_two_processes_on_one_redis_stay_under_the_servers_limit(
    api: SampleApi, redis_prefix: str, tmp_path: Path
) -> None:
    """20 requests/s each, one shared budget: the server never limits them and sees at
    most 20 in any second; the same two processes without Redis overrun it."""
    api.set_faults(server_rate_limit=(20, 1.0))
    finish(start_taps(api, tmp_path / "shared", base_env(**shared(redis_prefix))))
    together = list(api.requests)
    assert len(together) >= 2 * PAGES
    assert api.requests.rate_limited == 0, api.requests.statuses()
    assert api.requests.busiest_window(1.0) <= 20

    api.set_faults(server_rate_limit=(20, 1.0))  # counters afresh for the contrast run
    before = len(api.requests)
    finish(start_taps(api, tmp_path / "local", base_env()))
    alone = list(api.requests)[before:]
    overran = sum(1 for r in alone if r.status == 429)
    assert overran > 0, "two local governors at 20/s each should overrun a 20/s server"


@pytest.mark.slow
@pytest.mark.parametrize("with_redis", [True, False], ids=["shared", "local"])
def test_one_429_pauses_every_process(
    api: SampleApi, redis_prefix: str, tmp_path: Path, with_redis: bool
) -> None:
    """A 429 with Retry-After: 2 reaches one process; the server then hears from neither
    until the two seconds are over (without Redis the other process carries on)."""
    env = base_env(FLEXT_API_RATE_LIMIT_PER_SECOND="10")
    if with_redis:
        env.update(shared(redis_prefix))
    armed = threading.Event()

    def arm_when_both_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            paths = {r.path for r in api.requests}
            if all(any(ENTITY_OF[n] in p for p in paths) for n in ENTITY_OF):
                faults = api.faults
                api.set_faults(faults, rate_limit_next=1, retry_after=2.0)
                armed.set()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=arm_when_both_run, daemon=True)
    watcher.start()
    finish(start_taps(api, tmp_path, env))
    watcher.join(5)
    assert armed.is_set(), "both processes never ran at once"
    limited = [r for r in api.requests if r.status == 429]
    assert len(limited) == 1
    told = limited[0]
    paused = [r for r in api.requests if told.at < r.received < told.at + 2.0]
    after = [r for r in api.requests if r.received >= told.at + 2.0]
    # Both processes still had pages to read after the pause.
    assert {n for n, e in ENTITY_OF.items() for r in after if e in r.path} == set(ENTITY_OF)
    if with_redis:
        assert paused == [], [(r.path, round(r.received - told.at, 3)) for r in paused]
    else:
        other = next(e for e in ENTITY_OF.values() if e not in told.path)
        assert any(other in r.path for r in paused), "without Redis the other process goes on"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_redis_down_falls_back_to_the_local_share_logs_and_alerts_once(
    api: SampleApi, tmp_path: Path
) -> None:
    """An unreachable Redis: the run finishes on the local governor at 20 / 2 expected
    workers, says so in the log and raises one connectivity alert (the alert manager's log
    channel: development delivers no other here), with no password shown anywhere."""
    secret = "governor-pass-5521"
    url = f"redis://:{secret}@127.0.0.1:{closed_port()}/0"
    env = base_env(FLEXT_API_EXPECTED_WORKERS="2", **shared("flext-test-down", url=url))
    taps = start_taps(api, tmp_path, env, names=("a",))
    finish(taps)
    log = taps[0].stderr
    assert secret not in log
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    down = [e for e in events if e.get("event") == "http.rate_limit.redis_unavailable"]
    assert len(down) == 1, log[-3000:]
    assert down[0]["rate_per_s"] == 10.0 and down[0]["expected_workers"] == 2
    assert api.requests.busiest_window(1.0) <= 10 + 1
    alerts = [e for e in events if e.get("alert_type") == "connectivity_failure"]
    assert [e["event"] for e in alerts] == ["alert.raised"], alerts
    assert alerts[0]["pipeline_name"] == "redis rate governor"
    assert alerts[0]["context"]["job"] == "tap-flext-api"
    assert "locally at 10.0 requests/s" in alerts[0]["message"]
