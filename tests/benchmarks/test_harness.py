"""The benchmark harness's pure parts: dataset, record counting, ratios, table. No timings."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import fastjsonschema
import pytest

from benchmarks import _dataset, _report, _services
from benchmarks._count import RecordCounter
from benchmarks._process import Stage, run_pipeline
from benchmarks._report import Row


# ---------------------------------------------------------------- dataset
def test_dataset_file_is_byte_identical_across_generations(tmp_path: Path) -> None:
    """Generating the same size twice writes the same bytes (so cached files can be reused)."""
    first = _dataset.write_singer_file(tmp_path / "a.singer", 500)
    second = _dataset.write_singer_file(tmp_path / "b.singer", 500)
    assert _dataset.file_digest(first) == _dataset.file_digest(second)
    assert _dataset.file_digest(first) != _dataset.file_digest(
        _dataset.write_singer_file(tmp_path / "c.singer", 501)
    )


def test_dataset_file_is_schema_then_records_then_state(tmp_path: Path) -> None:
    """The file holds one SCHEMA, exactly n RECORDs with ids 1..n, and a final STATE."""
    path = _dataset.write_singer_file(tmp_path / "d.singer", 250)
    messages = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert messages[0]["type"] == "SCHEMA"
    assert messages[0]["key_properties"] == ["id"]
    assert messages[-1]["type"] == "STATE"
    records = [m for m in messages if m["type"] == "RECORD"]
    assert [m["record"]["id"] for m in records] == list(range(1, 251))
    assert len(messages) == 252


def test_ensure_dataset_reuses_an_existing_file(tmp_path: Path) -> None:
    """A dataset already generated is not rewritten."""
    path = _dataset.ensure_dataset(tmp_path, 10)
    path.write_bytes(b"sentinel")
    assert _dataset.ensure_dataset(tmp_path, 10).read_bytes() == b"sentinel"


def test_records_have_sixteen_fields_of_the_documented_mix() -> None:
    """Records carry 16 fields of the documented mix, with nulls, 0, False and "" all present."""
    records = [_dataset.make_record(i) for i in range(1, 2001)]
    validate = fastjsonschema.compile(_dataset.SCHEMA)
    for record in records:
        validate(record)
        assert tuple(record) == _dataset.FIELD_NAMES
    assert len(_dataset.FIELD_NAMES) == 16

    def values(name: str) -> list[object]:
        return [r[name] for r in records]

    assert all(isinstance(v, int) and not isinstance(v, bool) for v in values("id"))
    assert any(isinstance(v, str) and not v.isascii() for v in values("city"))
    assert any(isinstance(v, float) and v != int(v) for v in values("price"))
    assert {True, False} <= set(values("active"))
    assert None in values("is_gift")
    for text in values("created_at"):
        assert isinstance(text, str)
        assert datetime.fromisoformat(text).tzinfo is not None
    assert all(date.fromisoformat(v) for v in values("ship_date") if isinstance(v, str))
    assert all(isinstance(v, dict) for v in values("attributes") if v is not None)
    assert any(isinstance(v, list) and v for v in values("tags"))
    assert any(v == [] for v in values("tags"))
    assert set(values("notes")) == {None}
    assert 0 in values("quantity")
    assert "" in values("city")
    for name in ("name", "city", "weight_kg", "updated_at", "ship_date", "discount", "attributes"):
        assert None in values(name), name


def test_make_record_is_a_pure_function_of_the_id() -> None:
    """The same id gives the same record; different ids give different records."""
    assert _dataset.make_record(12345) == _dataset.make_record(12345)
    assert _dataset.make_record(12345) != _dataset.make_record(12346)


# ---------------------------------------------------------- record counting
@pytest.mark.parametrize("chunk_size", [1, 2, 7, 15, 16, 17, 64, 10_000])
def test_record_counter_counts_markers_split_across_chunks(chunk_size: int) -> None:
    """RECORD messages are counted once each however the stream is chunked, in both JSON styles."""
    lines = [
        b'{"type":"SCHEMA","stream":"s"}',
        *[b'{"type":"RECORD","stream":"s","record":{"id":%d}}' % i for i in range(40)],
        *[b'{"type": "RECORD", "stream": "s", "record": {"id": %d}}' % i for i in range(9)],
        b'{"type":"STATE","value":{}}',
    ]
    data = b"\n".join(lines) + b"\n"
    counter = RecordCounter()
    for start in range(0, len(data), chunk_size):
        counter.feed(data[start : start + chunk_size])
    assert counter.count == 49
    assert counter.bytes == len(data)


# ------------------------------------------------------------------ ratios
@pytest.mark.parametrize(
    ("value", "baseline", "expected"),
    [
        (300.0, 100.0, 3.0),
        (50.0, 200.0, 0.25),
        (None, 100.0, None),
        (100.0, None, None),
        (100.0, 0.0, None),
        (float("nan"), 100.0, None),
    ],
)
def test_ratio_divides_by_the_baseline_or_gives_none(
    value: float | None, baseline: float | None, expected: float | None
) -> None:
    """The ratio is value/baseline, and None when either side is missing or the baseline is 0."""
    assert _report.ratio(value, baseline) == expected


@pytest.mark.parametrize(
    ("records", "seconds", "expected"),
    [(200_000, 2.0, 100_000.0), (10, 0.0, None), (None, 1.0, None), (10, None, None)],
)
def test_records_per_second(
    records: int | None, seconds: float | None, expected: float | None
) -> None:
    """records/s is records divided by wall seconds, undefined for no time or no records."""
    assert _report.records_per_second(records, seconds) == expected


def _row(subject: str, records: int, seconds: float, *, baseline: bool = False) -> Row:
    return Row("tap", subject, records=records, seconds=seconds, rss_mib=(80.0,), baseline=baseline)


def test_with_ratio_compares_rates_not_times() -> None:
    """The ratio is between records/s, so runs of different sizes compare correctly."""
    baseline = _row("peer", 20_000, 4.0, baseline=True)  # 5k rec/s
    ours = _row("ours", 200_000, 2.0)  # 100k rec/s
    assert _report.with_ratio(ours, baseline).ratio == pytest.approx(20.0)


def test_with_ratio_leaves_the_ratio_empty_when_the_baseline_did_not_run() -> None:
    """No baseline figure means no ratio, never a made-up one."""
    missing = Row("tap", "peer", status="not available", reason="not installed", baseline=True)
    assert _report.with_ratio(_row("ours", 100, 1.0), missing).ratio is None


@pytest.mark.parametrize(
    ("seconds", "baseline_seconds", "verdict"),
    [
        (1.0, 20.0, "met"),  # 200k rec/s, 20x
        (4.0, 200.0, "NOT met (rate)"),  # 50k rec/s, 50x
        (1.0, 10.0, "NOT met (ratio)"),  # 200k rec/s, only 10x
        (4.0, 20.0, "NOT met (rate, ratio)"),  # 50k rec/s, 5x
    ],
)
def test_throughput_verdict_checks_rate_and_ratio(
    seconds: float, baseline_seconds: float, verdict: str
) -> None:
    """A row meets its goal only with both the minimum rate and the minimum ratio."""
    baseline = _row("peer", 200_000, baseline_seconds, baseline=True)
    row = _report.with_ratio(_row("ours", 200_000, seconds), baseline)
    judged = _report.throughput_verdict(row, 100_000, 15.0)
    assert judged.verdict == verdict
    assert judged.goal == ">= 100k rec/s, >= 15x"


def test_throughput_verdict_without_baseline_is_not_a_pass() -> None:
    """A fast row whose baseline is missing is not reported as meeting a ratio goal."""
    judged = _report.throughput_verdict(_row("ours", 200_000, 1.0), 100_000, 15.0)
    assert judged.verdict == "NOT met (ratio unknown)"


@pytest.mark.parametrize(
    ("large_rss", "verdict"),
    [(110.0, "met"), (125.0, "met"), (125.3, "met"), (126.0, "NOT met"), (200.0, "NOT met")],
)
def test_memory_row_compares_peak_rss_of_two_sizes(large_rss: float, verdict: str) -> None:
    """Peak RSS at the large size over the small size is bounded by the documented factor."""
    small = Row("tap", "ours", records=200_000, seconds=2.0, rss_mib=(40.0, 100.0))
    large = Row("tap", "ours", records=1_000_000, seconds=10.0, rss_mib=(large_rss, 50.0))
    row = _report.memory_row("memory (tap)", "ours", "-", small, large)
    assert row.ratio == round(large_rss / 100.0, 2)
    assert row.verdict == verdict
    assert row.rss_mib == (100.0, large_rss)


def test_memory_row_passes_on_an_unavailable_run() -> None:
    """When either size did not run, the memory row says why and shows no figures."""
    small = Row("tap", "ours", status="not available", reason="not installed")
    large = Row("tap", "ours", records=1_000_000, seconds=10.0, rss_mib=(90.0,))
    row = _report.memory_row("memory (tap)", "ours", "-", small, large)
    assert row.status == "not available"
    assert row.ratio is None
    assert row.reason == "not installed"


# ------------------------------------------------------------------- table
def test_table_shows_reasons_instead_of_numbers_for_rows_that_did_not_run() -> None:
    """A not-available or failed row prints its reason and '-' in every figure column."""
    rows = [
        _row("peer", 20_000, 4.0, baseline=True),
        Row("tap", "ours", "/dev/null", records=20_000, status="not available", reason="no script"),
        Row("tap", "ours2", "/dev/null", records=20_000, status="failed", reason="exit 1"),
    ]
    text = _report.format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "not available: no script" in lines[3]
    assert "failed: exit 1" in lines[4]
    for line in lines[3:]:
        cells = _report.row_cells(rows[lines.index(line) - 2])
        assert cells[4:8] == ("-", "-", "-", "-")
    assert "5,000" in lines[2]
    streaming = replace(rows[0], streaming_rate=92_331.4)
    assert _report.row_cells(streaming)[6] == "92,331"
    assert _report.row_cells(rows[0])[6] == "-"
    assert "1.00x" in lines[2]
    assert "(baseline)" in lines[2]


def test_table_columns_line_up_and_markdown_has_one_cell_per_header() -> None:
    """Text columns are aligned; the Markdown table has a cell for each header on every line."""
    rows = [
        _row("peer", 20_000, 4.0, baseline=True),
        _report.with_ratio(_row("ours | pipe", 200_000, 1.5), _row("peer", 20_000, 4.0)),
    ]
    text_lines = _report.format_table(rows).splitlines()
    rate_col = text_lines[0].index("Records/s") + len("Records/s")
    assert all(line[rate_col - 1].isdigit() for line in text_lines[2:])
    markdown = _report.format_table(rows, "markdown").splitlines()
    header_cells = markdown[0].count(" | ") + 1
    for line in markdown[2:]:
        assert line.replace("\\|", "").count(" | ") + 1 == header_cells
    assert "26.7x" in markdown[3]


@pytest.mark.parametrize(
    ("n", "text"),
    [(200_000, "200k"), (1_000_000, "1M"), (1_500, "1.5k"), (999, "999"), (20_001, "20001")],
)
def test_record_counts_are_abbreviated_only_when_exact(n: int, text: str) -> None:
    """Record counts print as 200k / 1M, but never round a count that is not exact."""
    assert _report.row_cells(Row("x", "y", records=n, status="failed"))[3] == text


# --------------------------------------------------------- sample API urls
def test_page_queries_cover_every_page_and_the_bare_first_page() -> None:
    """Warming covers page 1..N and the first page without a page parameter."""
    queries = _services.page_queries(2500, page_size=1000)
    assert queries[0] == {"per_page": "1000"}
    assert [q.get("page") for q in queries[1:]] == ["1", "2", "3"]


def test_page_key_ignores_parameter_order() -> None:
    """A logged query string and a dict of the same parameters name the same page."""
    assert _services.page_key("/p", "page=2&per_page=1000") == _services.page_key(
        "/p", {"per_page": "1000", "page": "2"}
    )


# ------------------------------------------------------- process measurement
def test_peak_rss_is_the_subjects_own_not_the_harness_high_water_mark(tmp_path: Path) -> None:
    """A small subject started by a big harness reports its own peak RSS (Linux fork/exec quirk)."""
    ballast = bytearray(256 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))  # make the pages resident
    result = run_pipeline(
        [Stage("tiny", [sys.executable, "-S", "-c", "pass"])], log_dir=tmp_path, timeout_s=60
    )
    del ballast
    assert result.ok, result.failure()
    assert 0 < result.stages[0].max_rss_kib < 100 * 1024


def test_pipeline_counts_records_and_reports_each_stage_exit_code(tmp_path: Path) -> None:
    """Stages are piped in order, RECORDs on the last stdout are counted, exit codes kept."""
    emit = 'import sys\nfor i in range(7): sys.stdout.write(\'{"type":"RECORD","record":{}}\\n\')'
    passthrough = "import sys; sys.stdout.write(sys.stdin.read())"
    result = run_pipeline(
        [
            Stage("emit", [sys.executable, "-c", emit]),
            Stage("copy", [sys.executable, "-c", passthrough]),
        ],
        log_dir=tmp_path,
        sink="count",
        timeout_s=60,
    )
    assert result.ok
    assert result.records_out == 7
    assert result.first_record_s is not None
    # Not bounded by result.seconds: the counter is its own process and may read seven
    # lines only after both stages exited (seen on a loaded machine).
    assert result.first_record_s >= 0
    assert [s.returncode for s in result.stages] == [0, 0]
    failing = run_pipeline(
        [Stage("fail", [sys.executable, "-c", "import sys; sys.exit('boom')"])],
        log_dir=tmp_path / "f",
        timeout_s=60,
    )
    assert not failing.ok
    assert failing.failure() == "fail exited 1: boom"


def test_median_row_reports_the_middle_run_and_every_time() -> None:
    """Three runs: the middle one by time is reported, with all three times in a note."""
    runs = [Row("tap", "ours", "counter", records=100, seconds=s) for s in (2.0, 1.0, 3.0)]
    median = _report.median_row(runs)
    assert median.seconds == 2.0
    assert median.notes == ("ours into counter: median of 3 runs (2.00, 1.00, 3.00 s)",)
    assert _report.median_row(runs[:2]).seconds == 2.0  # even count: the slower middle run
    assert _report.median_row(runs[:1]) is runs[0]


def test_median_row_never_hides_a_failed_run() -> None:
    """One failed run among good ones makes the reported row the failure."""
    failed = Row("tap", "ours", "counter", records=100, status="failed", reason="exit 1")
    runs = [Row("tap", "ours", "counter", records=100, seconds=1.0), failed]
    assert _report.median_row(runs) is failed
    with pytest.raises(ValueError, match="no runs"):
        _report.median_row([])


def test_share_verdict_is_our_rate_as_a_share_of_the_floor() -> None:
    """The floor goal: records/s over the floor's, met at or above the share."""
    floor = Row("target-large", "floor", "PostgreSQL", records=1000, seconds=1.0, baseline=True)
    ours = Row("target-large", "ours", "PostgreSQL", records=1000, seconds=1.25)
    judged = _report.share_verdict(ours, floor, 0.70, "the COPY floor")
    assert judged.ratio == pytest.approx(0.8)
    assert judged.verdict == "met"
    slow = Row("target-large", "ours", "PostgreSQL", records=1000, seconds=2.0)
    assert _report.share_verdict(slow, floor, 0.70, "the COPY floor").verdict == "NOT met"
    missing = Row("target-large", "floor", "PostgreSQL", status="not available", reason="no psql")
    assert _report.share_verdict(ours, missing, 0.70, "x").verdict.startswith("NOT met")


def test_time_verdict_compares_upsert_time_with_append_time() -> None:
    """The upsert goal: upsert's time over append's, met at or below the factor."""
    append = Row("target", "append", "SQLite", records=100, seconds=2.0)
    upsert = Row("target", "upsert", "SQLite", records=100, seconds=2.8)
    judged = _report.time_verdict(upsert, append, 1.5, "append")
    assert judged.ratio == pytest.approx(1.4)
    assert judged.verdict == "met"
    slow = Row("target", "upsert", "SQLite", records=100, seconds=3.2)
    assert _report.time_verdict(slow, append, 1.5, "append").verdict == "NOT met"


def test_sling_reads_the_records_as_json_lines(tmp_path: Path) -> None:
    """Sling's input holds exactly the dataset's records, one JSON object per line."""
    from benchmarks import _floor

    singer_file = _dataset.write_singer_file(tmp_path / "d.singer", 25)
    jsonl = _floor.records_jsonl(singer_file)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert records == [_dataset.make_record(i) for i in range(1, 26)]
    argv = _floor.sling_argv(Path("/bin/sling"), jsonl, "s1")
    assert argv[argv.index("--tgt-object") + 1] == "s1.bench_items"
    assert json.loads(argv[argv.index("--src-options") + 1]) == {"flatten": True}


def test_the_floor_copies_the_csv_into_the_schemas_table() -> None:
    """psql \\copy names the schema's table, the CSV file, and stops on the first error."""
    from benchmarks import _floor

    argv = _floor.psql_copy_argv("s1", Path("/data/x.csv"))
    assert argv[0] == "psql" and "ON_ERROR_STOP=1" in argv
    assert argv[-1] == '\\copy "s1"."bench_items" FROM \'/data/x.csv\' WITH (FORMAT csv)'
