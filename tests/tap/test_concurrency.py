"""max_concurrency above 1: the same records and bookmarks as a serial run, at the API's pace."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from flext_infra import ExitCode
from flext_infra.testing import WMS_PREFIX
from tap_flext_api import StreamFatalError, TapFlextApi, WmsEntityStream

from ._concurrency import (
    ENTITIES,
    assert_states_never_ahead,
    exactly_once,
    max_key,
    peak_in_flight,
    recent_api,
    run,
    source_keys,
    wms,
)
from ._serial_golden import SCENARIOS, load_golden, run_scenario
from .conftest import run_subprocess


def _records_by_stream(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        if m["type"] == "RECORD":
            out[m["stream"]].append(m["sha256"])
    return out


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_concurrent_run_emits_the_serial_records_and_final_state(scenario: str) -> None:
    """At concurrency 8 each stream has the serial run's records, in its order, and its bookmark."""
    expected = load_golden()[scenario]
    got = run_scenario(scenario, max_concurrency=8)
    assert _records_by_stream(got) == _records_by_stream(expected)
    states = [m for m in got if m["type"] == "STATE"]
    assert states[-1] == [m for m in expected if m["type"] == "STATE"][-1]
    first_schema: dict[str, int] = {}
    for index, message in enumerate(got):
        if message["type"] == "SCHEMA":
            first_schema.setdefault(message["stream"], index)
        elif message["type"] == "RECORD":
            assert first_schema.get(message["stream"], index) < index, "RECORD before its SCHEMA"


def test_lgf_paged_mode_at_concurrency_8_reads_every_record_once() -> None:
    """Three streams, page_mode paged: every record once, the right bookmarks, pages at once."""
    with recent_api(300, latency_ms=20, latency_jitter_ms=30) as api:
        start = api.record("allocation", 1)["mod_ts"]
        out = run(wms(api, max_concurrency=8, page_mode="paged", start_date=start))
        assert out.error is None, out.error
        for entity in ENTITIES:
            keys = source_keys(api, entity)
            exactly_once(out, entity, set(keys))
            assert out.bookmark(entity) == max_key(keys)
        assert_states_never_ahead(out, {e: source_keys(api, e) for e in ENTITIES})
        queries = [r.query for r in api.requests.matching(WMS_PREFIX + "order_hdr/") if r.query]
        assert all("page_mode=paged" in q and "ordering=mod_ts%2Cid" in q for q in queries)
        assert peak_in_flight(api, WMS_PREFIX) >= 4


def test_time_windows_read_records_on_boundaries_exactly_once() -> None:
    """Records tied exactly on window boundaries are read once; later ones wait for a later run."""
    with recent_api(400, latency_jitter_ms=20) as api:
        first = dt.datetime.fromisoformat(api.record("order_hdr", 1)["mod_ts"])
        origin = first - dt.timedelta(seconds=1)
        boundaries = [origin + dt.timedelta(hours=6 * k) for k in range(1, 8)]
        placed: dict[str, list[int]] = {}
        for entity in ENTITIES:
            ids = []
            for k, boundary in enumerate(boundaries):
                tie = [10 + 40 * k, 11 + 40 * k, 12 + 40 * k]
                api.set_mod_ts(entity, tie, boundary.isoformat())
                ids += tie
            placed[entity] = ids
        # Modified after the run starts: not this run's to read.
        future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
        api.set_mod_ts("order_hdr", [399], future)
        out = run(
            wms(api, max_concurrency=8, partition_window="6 hours", start_date=origin.isoformat())
        )
        assert out.error is None, out.error
        sources = {e: source_keys(api, e) for e in ENTITIES}
        for entity in ENTITIES:
            keys = sources[entity]
            expected = {i for i in keys if entity != "order_hdr" or i != 399}
            exactly_once(out, entity, expected)
            assert set(placed[entity]) <= set(out.ids(entity))
            assert out.bookmark(entity) == max_key(keys, expected)
        assert assert_states_never_ahead(out, sources) > 3
        # The windows' own bounds reached the API: [start, end) on mod_ts.
        sent = [r for r in api.requests.matching(WMS_PREFIX + "allocation/") if r.query]
        assert len(sent) >= 8 and all("mod_ts__lt=" in r.query for r in sent)


def test_a_windowed_stream_is_unsorted_while_its_bookmark_stays_behind_unfinished_windows() -> None:
    """Windows finish out of order: the stream says it is unsorted, and no STATE runs ahead."""
    with recent_api(240, latency_ms=5, latency_jitter_ms=60) as api:
        start = api.record("allocation", 1)["mod_ts"]
        config = wms(
            api, entities=["allocation"], max_concurrency=6, partition_window="4 hours",
            start_date=start, page_size=10,
        )  # fmt: skip
        sorted_while_read: list[bool] = []

        class Probe(WmsEntityStream):
            def _publish_watermark(self, watermark: Any) -> bool:
                sorted_while_read.append(self.is_sorted)
                return super()._publish_watermark(watermark)

        class ProbeTap(TapFlextApi):
            wms_stream_class = Probe

        out = run(config, tap_class=ProbeTap, keep_tap=True)
        assert out.error is None, out.error
        assert out.tap is not None
        stream = out.tap.streams["allocation"]
        out.tap.close()
        ids = out.ids("allocation")
        assert ids != sorted(ids), "windows were not read concurrently"
        assert sorted_while_read and not any(sorted_while_read)
        assert stream.is_sorted is True  # the definition's order, once the windows are done
        keys = source_keys(api, "allocation")
        exactly_once(out, "allocation", set(keys))
        # A STATE at each window's end, and none of them ahead of the records.
        assert assert_states_never_ahead(out, {"allocation": keys}) >= 6
        assert out.bookmark("allocation") == max_key(keys)


def test_a_fatal_error_in_one_partition_stops_every_worker_within_a_second() -> None:
    """A 400 in one window: no request after it, a prompt stop, stream, partition and URL named."""
    with recent_api(600, latency_ms=300) as api:
        origin = dt.datetime.fromisoformat(api.record("allocation", 1)["mod_ts"])
        bad = (origin + dt.timedelta(hours=12)).isoformat()
        api.set_faults(fail_matching=f"mod_ts__gte={bad}", fail_matching_status=400)
        config = wms(
            api, entities=["allocation", "order_hdr"], max_concurrency=8,
            partition_window="6 hours", start_date=origin.isoformat(), page_size=10,
        )  # fmt: skip
        out = run(config)
        returned = time.time()
        error = out.error
        assert isinstance(error, StreamFatalError), error
        failed = next(r for r in api.requests if r.status == 400)
        assert returned - failed.at < 1.0, returned - failed.at
        late = [r for r in api.requests if r.received > failed.at + 0.2]
        assert late == [], f"{len(late)} requests sent after the fatal error"
        message = str(error)
        assert "stream 'allocation'" in message or "stream 'order_hdr'" in message
        assert f"[{bad}" in message and "partition mod_ts [" in message
        assert "HTTP 400" in message and "mod_ts__gte=" in message and api.base_url in message


class _Interrupted(BaseException):
    """What a signal handler raises in the main thread (the runtime's SIGTERM, say)."""


def _raise_in(thread_id: int, error: type[BaseException]) -> None:
    """Raise ``error`` in another thread, as a signal handler raises in the main thread."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(error))


def test_an_exception_in_the_calling_thread_stops_the_workers_and_is_not_swallowed() -> None:
    """An exception raised in the syncing thread propagates, and the workers stop at once."""
    with recent_api(2000, latency_ms=200) as api:
        start = api.record("allocation", 1)["mod_ts"]
        config = wms(api, max_concurrency=8, page_size=20, page_mode="paged", start_date=start)
        caller = threading.get_ident()
        stamps: dict[str, float] = {}

        def interrupt() -> None:
            stamps["at"] = time.time()
            _raise_in(caller, _Interrupted)

        timer = threading.Timer(0.8, interrupt)
        timer.start()
        try:
            with pytest.raises(_Interrupted):
                run(config)
            stopped = time.time()
        finally:
            timer.cancel()
        assert stopped - stamps["at"] < 1.0
        late = [r for r in api.requests if r.received > stamps["at"] + 0.3]
        assert late == [], f"{len(late)} requests sent after the interrupt"
        assert len(api.requests.matching(WMS_PREFIX)) < 3 * 100


def test_the_rate_limit_holds_in_every_second_at_concurrency_16(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With FLEXT_API_RATE_LIMIT_PER_SECOND the server sees at most rate + burst in any second."""
    monkeypatch.setenv("FLEXT_API_ZERO_WAITS", "false")
    monkeypatch.setenv("FLEXT_API_RATE_LIMIT_PER_SECOND", "20")
    monkeypatch.setenv("FLEXT_API_RATE_LIMIT_BURST", "4")
    with recent_api(300, latency_ms=10) as api:
        start = api.record("allocation", 1)["mod_ts"]
        config = wms(api, max_concurrency=16, page_size=5, page_mode="paged", start_date=start)
        out = run(config)
        assert out.error is None, out.error
        assert len(api.requests) >= 60
        assert api.requests.busiest_window(1.0) <= 20 + 4
        for entity in ENTITIES:
            exactly_once(out, entity, set(range(1, 301)))


def test_a_429_with_retry_after_pauses_every_worker_of_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One 429 (Retry-After: 1) mid-run: the server's log shows no request for that second."""
    monkeypatch.setenv("FLEXT_API_ZERO_WAITS", "false")
    with recent_api(900, latency_ms=30) as api:
        start = api.record("allocation", 1)["mod_ts"]
        config = wms(api, max_concurrency=8, page_size=10, page_mode="paged", start_date=start)
        arm = threading.Timer(0.5, lambda: api.set_faults(rate_limit_next=1, retry_after=1.0))
        arm.start()
        try:
            out = run(config)
        finally:
            arm.cancel()
        assert out.error is None, out.error
        limited = [r for r in api.requests if r.status == 429]
        assert len(limited) == 1
        pause = [r for r in api.requests if limited[0].at + 0.1 < r.received < limited[0].at + 0.9]
        assert pause == [], f"{len(pause)} requests during the Retry-After second"
        for entity in ENTITIES:
            exactly_once(out, entity, set(range(1, 901)))


def test_a_fault_storm_at_concurrency_8_delivers_every_record_exactly_once() -> None:
    """20% 5xx and 429, dropped and truncated bodies, at concurrency 8: each record once."""
    with recent_api(500) as api:
        api.set_faults(
            error_ratio=0.2, error_statuses=(500, 502, 503, 429), retry_after=1.0,
            drop_ratio=0.05, truncate_ratio=0.05, paths=(WMS_PREFIX,), seed=7,
        )  # fmt: skip
        origin = api.record("allocation", 1)["mod_ts"]
        config = wms(
            api, max_concurrency=8, page_size=20, page_mode="paged", partition_window="8 hours",
            start_date=origin, max_retries=20,
        )  # fmt: skip
        out = run(config)
        assert out.error is None, out.error
        faults = Counter(r.fault for r in api.requests if r.fault)
        assert faults["drop"] and faults["truncate"] and faults["status:429"], faults
        sources = {e: source_keys(api, e) for e in ENTITIES}
        for entity in ENTITIES:
            exactly_once(out, entity, set(sources[entity]))
            assert out.bookmark(entity) == max_key(sources[entity])
        assert_states_never_ahead(out, sources)


def test_a_spent_quota_stops_cleanly_and_the_next_run_finishes(tmp_path: Path) -> None:
    """Exit 75 with STATE for what completed and when to resume; the next run reads the rest."""
    with recent_api(300) as api:
        origin = api.record("allocation", 1)["mod_ts"]
        config = wms(
            api, max_concurrency=8, partition_window="6 hours", page_size=10, start_date=origin
        )
        api.set_faults(quota=40, quota_retry_after=3600, paths=(WMS_PREFIX,))
        first = run_subprocess(config, tmp=tmp_path)
        assert first.returncode == int(ExitCode.QUOTA_EXHAUSTED), first.stderr[-2000:]
        assert "tap.quota_exhausted" in first.stderr and "resume_after=" in first.stderr
        assert "run again after" in first.stderr and "Traceback" not in first.stderr
        sources = {e: source_keys(api, e) for e in ENTITIES}
        assert assert_states_never_ahead(first, sources) >= 1
        emitted = {e: set(first.ids(e)) for e in ENTITIES}
        assert 0 < sum(map(len, emitted.values())) < 900
        api.set_faults()  # the quota is back
        second = run_subprocess(config, state=first.state, tmp=tmp_path)
        assert second.returncode == 0, second.stderr[-2000:]
        assert_states_never_ahead(second, sources, already=emitted)
        for entity in ENTITIES:
            assert emitted[entity] | set(second.ids(entity)) == set(sources[entity])
            assert second.bookmark(entity) == max_key(sources[entity])


def test_discovery_asks_for_every_describe_at_once() -> None:
    """Against a slow API the WMS describes overlap (max_concurrency), in one round trip."""
    with recent_api(5, latency_ms=200) as api:
        tap = TapFlextApi(config=wms(api, max_concurrency=4))
        tap.close()
        assert sorted(tap.streams) == sorted(ENTITIES)
        describes = [r for r in api.requests if r.path.endswith("/describe/")]
        assert len(describes) == 3
        assert peak_in_flight(api, WMS_PREFIX) == 3


def test_a_paged_walk_whose_set_moves_freezes_the_bookmark_and_the_next_run_recovers() -> None:
    """A record modified mid-walk shifts page boundaries: the bookmark stays, nothing is lost."""
    with recent_api(300, latency_ms=60) as api:
        origin = api.record("allocation", 1)["mod_ts"]
        config = wms(
            api, entities=["allocation"], max_concurrency=3, page_mode="paged", page_size=10,
            start_date=origin,
        )  # fmt: skip
        before = source_keys(api, "allocation")
        moved = threading.Event()

        def modify_mid_walk() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not moved.is_set():
                answered = [r for r in api.requests.matching(WMS_PREFIX) if "page=" in r.query]
                if len(answered) >= 6:
                    # As LGF does: the change stamps mod_ts with the time of the change.
                    now = dt.datetime.now(dt.UTC).isoformat()
                    api.set_mod_ts("allocation", [2], now)
                    moved.set()
                time.sleep(0.005)

        watcher = threading.Thread(target=modify_mid_walk, daemon=True)
        watcher.start()
        first = run(config)
        watcher.join(5)
        assert moved.is_set() and first.error is None, first.error
        # The set shrank under the walk (record 2 left the window): the bookmark froze.
        frozen = first.bookmark("allocation")
        assert frozen is not None and frozen < max_key(before)
        second = run(config, state=first.states[-1])
        assert second.error is None, second.error
        now_keys = source_keys(api, "allocation")
        assert set(first.ids("allocation")) | set(second.ids("allocation")) == set(now_keys)
        assert second.bookmark("allocation") == max_key(now_keys)
