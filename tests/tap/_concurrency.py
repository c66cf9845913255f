"""Helpers for the concurrency tests: recent sample data, runs, and the STATE invariant."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter, defaultdict
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any

from flext_infra.testing import SampleApi
from tap_flext_api import TapFlextApi
from tap_flext_api._bookmarks import parse_timestamp

from .conftest import PASSWORD, USER

ENTITIES = ("allocation", "order_hdr", "order_dtl")


def recent_api(records: int, *, days: float = 2.0, **options: Any) -> SampleApi:
    """A sample API whose records spread over the last ``days`` (so time windows end now)."""
    now = dt.datetime.now(dt.UTC)
    first = now - dt.timedelta(days=days)
    step = days * 86400 / (records + 1)
    return SampleApi(
        records=records,
        username=USER,
        password=PASSWORD,
        first_mod_ts=first.isoformat(),
        mod_ts_step_s=step,
        **options,
    )


def wms(api: SampleApi, **extra: Any) -> dict[str, Any]:
    """The oracle_wms config for ``api``."""
    return {
        "profile": "oracle_wms",
        "base_url": api.base_url,
        "username": USER,
        "password": PASSWORD,
        "page_size": 25,
        **extra,
    }


@dataclass
class Output:
    """A run's Singer messages, in order."""

    messages: list[dict[str, Any]]
    error: BaseException | None = None
    tap: TapFlextApi | None = field(default=None, repr=False)

    def ids(self, stream: str) -> list[int]:
        """Record ids of ``stream`` in order."""
        return [
            m["record"]["id"]
            for m in self.messages
            if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        """Every STATE value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def bookmark(self, stream: str) -> Any:
        """The last STATE's bookmark for ``stream``."""
        return self.states[-1]["bookmarks"][stream].get("replication_key_value")


def run(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    keep_tap: bool = False,
    tap_class: type[TapFlextApi] = TapFlextApi,
) -> Output:
    """Sync in process; the error (if any) is kept, not raised."""
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    tap = tap_class(config=config, state=state)
    error: BaseException | None = None
    try:
        with redirect_stdout(buffer):
            try:
                tap.sync_all()
            except Exception as exc:  # a BaseException (an interrupt) propagates
                error = exc
    finally:
        if not keep_tap:
            tap.close()
    buffer.seek(0)
    lines = buffer.read().splitlines()
    buffer.close()
    messages = [json.loads(line) for line in lines if line.strip()]
    return Output(messages, error, tap if keep_tap else None)


def source_keys(api: SampleApi, entity: str, key: str = "mod_ts") -> dict[int, str]:
    """``id -> key value`` of every record of ``entity`` as the API serves it now."""
    return {i: api.record(entity, i)[key] for i in range(1, api.count(entity) + 1)}


def assert_states_never_ahead(
    output: Any,
    sources: dict[str, dict[int, str]],
    already: dict[str, set[int]] | None = None,
) -> int:
    """Every STATE only claims records already emitted before it.

    For each STATE and stream with bookmark ``b``: every source record whose
    key is strictly below ``b`` was emitted earlier in the output, or by an
    earlier run (``already``; a run echoes its input STATE first). A record at
    ``b`` itself is read again by the inclusive filter. Returns how many
    (state, stream) pairs were checked.
    """
    seen: dict[str, set[int]] = defaultdict(set)
    for stream, ids in (already or {}).items():
        seen[stream].update(ids)
    checked = 0
    at = {s: {i: parse_timestamp(v) for i, v in keys.items()} for s, keys in sources.items()}
    for message in output.messages:
        if message["type"] == "RECORD":
            seen[message["stream"]].add(message["record"]["id"])
            continue
        if message["type"] != "STATE":
            continue
        for stream, bookmark in message["value"].get("bookmarks", {}).items():
            value = bookmark.get("replication_key_value")
            if value is None or stream not in at:
                continue
            mark = parse_timestamp(value)
            assert mark is not None
            missing = [i for i, t in at[stream].items() if t is not None and t < mark]
            missing = [i for i in missing if i not in seen[stream]]
            assert not missing, (
                f"STATE claims {stream} up to {value}, but ids {sorted(missing)[:8]} "
                f"({len(missing)} in all) below it were not emitted yet"
            )
            checked += 1
    return checked


def exactly_once(output: Any, stream: str, expected: set[int]) -> None:
    """``stream`` emitted each id of ``expected`` once, and nothing else."""
    counts = Counter(output.ids(stream))
    twice = sorted(i for i, n in counts.items() if n > 1)
    assert not twice, f"{stream}: ids emitted more than once: {twice[:8]}"
    missing = sorted(expected - counts.keys())
    extra = sorted(counts.keys() - expected)
    assert not missing, f"{stream}: {len(missing)} ids never emitted: {missing[:8]}"
    assert not extra, f"{stream}: unexpected ids: {extra[:8]}"


def max_key(keys: dict[int, str], ids: set[int] | None = None) -> str:
    """The largest key value (as the API writes it) among ``ids`` (default all)."""
    chosen = [v for i, v in keys.items() if ids is None or i in ids]
    return max(chosen, key=lambda v: parse_timestamp(v) or dt.datetime.min)


def peak_in_flight(api: SampleApi, prefix: str) -> int:
    """The most requests the server was handling at once (from arrival and answer times)."""
    events = []
    for record in api.requests.matching(prefix):
        events.append((record.received, 1))
        events.append((record.at, -1))
    events.sort()
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak
