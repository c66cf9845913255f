"""Result rows, the ratio arithmetic, goal verdicts and the printed table.

Nothing here measures anything: it only turns measurements into the table, so it
is tested on its own (tests/benchmarks/).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

Status = Literal["ok", "failed", "not available"]

#: Peak RSS at the large size may exceed the small size's by this factor and still
#: count as "independent of the record count" (allocator noise, bigger int ids).
MEMORY_BOUND_FACTOR = 1.25


@dataclass(frozen=True)
class Row:
    """One line of the table: one subject run once (or a derived comparison).

    A row that is not ``ok`` carries no figures, only its reason: a benchmark whose
    subject cannot run says so instead of showing a number.
    """

    benchmark: str
    subject: str
    into: str = "-"
    records: int | None = None
    seconds: float | None = None
    rss_mib: tuple[float, ...] = ()
    status: Status = "ok"
    reason: str = ""
    ratio: float | None = None
    goal: str = ""
    verdict: str = ""
    baseline: bool = False
    #: Records/s from the first RECORD to the end (taps only): throughput without start-up.
    streaming_rate: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rate(self) -> float | None:
        """Records per second, when the row has both figures."""
        return records_per_second(self.records, self.seconds) if self.status == "ok" else None


def records_per_second(records: int | None, seconds: float | None) -> float | None:
    """``records / seconds``; ``None`` when either is missing or the time is not positive."""
    if records is None or seconds is None or not seconds > 0:
        return None
    return records / seconds


def ratio(value: float | None, baseline: float | None) -> float | None:
    """How many times ``baseline`` the ``value`` is; ``None`` if either is missing or zero."""
    if value is None or baseline is None or baseline <= 0 or math.isnan(value):
        return None
    return value / baseline


def with_ratio(row: Row, baseline: Row | None) -> Row:
    """The row with its ratio against ``baseline`` filled in (both must be ``ok``)."""
    if row.status != "ok" or baseline is None or baseline.status != "ok":
        return row
    return replace(row, ratio=ratio(row.rate, baseline.rate))


def median_row(rows: Sequence[Row]) -> Row:
    """The median of repeated runs of one subject (by time), noting every run's time.

    A run that was not ``ok`` is returned instead: a failure is never hidden by
    the other runs. With an even count the slower middle run is taken.
    """
    if not rows:
        raise ValueError("no runs")
    for row in rows:
        if row.status != "ok" or row.seconds is None:
            return row
    if len(rows) == 1:
        return rows[0]
    ordered = sorted(rows, key=lambda r: r.seconds or 0.0)
    middle = ordered[len(ordered) // 2]
    times = ", ".join(f"{r.seconds:.2f}" for r in rows)
    note = f"{middle.subject} into {middle.into}: median of {len(rows)} runs ({times} s)"
    return replace(middle, notes=(*middle.notes, note))


def throughput_verdict(row: Row, min_rate: float, min_ratio: float | None) -> Row:
    """Attach the goal text and whether the row meets it.

    Without a baseline figure the ratio part cannot be judged, and the verdict says so
    rather than passing it.
    """
    goal = f">= {short(min_rate)} rec/s" + (f", >= {min_ratio:g}x" if min_ratio else "")
    if row.status != "ok" or row.rate is None:
        return replace(row, goal=goal, verdict="-")
    misses = []
    if row.rate < min_rate:
        misses.append("rate")
    if min_ratio is not None:
        if row.ratio is None:
            misses.append("ratio unknown")
        elif row.ratio < min_ratio:
            misses.append("ratio")
    verdict = "met" if not misses else "NOT met (" + ", ".join(misses) + ")"
    return replace(row, goal=goal, verdict=verdict)


def share_verdict(row: Row, reference: Row | None, min_share: float, what: str) -> Row:
    """The row's records/s as a share of ``reference``'s (ratio column), against ``min_share``."""
    goal = f">= {min_share:.0%} of {what}"
    if row.status != "ok" or reference is None or reference.status != "ok":
        return replace(row, goal=goal, verdict="-" if row.status != "ok" else "NOT met (unknown)")
    share = ratio(row.rate, reference.rate)
    if share is None:
        return replace(row, goal=goal, verdict="NOT met (unknown)")
    return replace(row, ratio=share, goal=goal, verdict="met" if share >= min_share else "NOT met")


def time_verdict(row: Row, reference: Row | None, max_factor: float, what: str) -> Row:
    """The row's time over ``reference``'s (ratio column), against ``max_factor``."""
    goal = f"time <= {max_factor:g}x {what}"
    if row.status != "ok" or reference is None or reference.status != "ok":
        return replace(row, goal=goal, verdict="-" if row.status != "ok" else "NOT met (unknown)")
    factor = ratio(row.seconds, reference.seconds)
    if factor is None:
        return replace(row, goal=goal, verdict="NOT met (unknown)")
    return replace(
        row, ratio=factor, goal=goal, verdict="met" if factor <= max_factor else "NOT met"
    )


def memory_row(benchmark: str, subject: str, into: str, small: Row, large: Row) -> Row:
    """Compare the peak RSS of the same subject at two sizes.

    Uses the largest stage of each run (for a pipeline, its biggest process). The
    ratio column is large/small peak RSS; ``<= MEMORY_BOUND_FACTOR`` counts as
    bounded by the batch size rather than by the record count.
    """
    goal = f"RSS {_records(large.records)}/{_records(small.records)} <= {MEMORY_BOUND_FACTOR:g}"
    if small.status != "ok" or large.status != "ok" or not small.rss_mib or not large.rss_mib:
        bad = small if small.status != "ok" else large
        reason = bad.reason or "no RSS figure"
        status: Status = bad.status if bad.status != "ok" else "failed"
        return Row(benchmark, subject, into, status=status, reason=reason, goal=goal, verdict="-")
    exact = ratio(max(large.rss_mib), max(small.rss_mib))
    # Judged on the two decimals the table shows, so "1.25" never reads as a miss.
    factor = None if exact is None else round(exact, 2)
    verdict = "-" if factor is None else ("met" if factor <= MEMORY_BOUND_FACTOR else "NOT met")
    return Row(
        benchmark,
        subject,
        into,
        records=large.records,
        seconds=large.seconds,
        rss_mib=(max(small.rss_mib), max(large.rss_mib)),
        ratio=factor,
        goal=goal,
        verdict=verdict,
        streaming_rate=large.streaming_rate,
        notes=("memory rows: time and rates are the large run's; RSS is small -> large",),
    )


HEADERS = (
    "Benchmark",
    "Subject",
    "Into",
    "Records",
    "Time s",
    "Records/s",
    "From 1st rec/s",
    "Ratio",
    "Peak RSS MiB",
    "Goal",
    "Result",
)


def row_cells(row: Row) -> tuple[str, ...]:
    """The row's cells as text, in ``HEADERS`` order."""
    subject = row.subject + (" (baseline)" if row.baseline else "")
    if row.status != "ok":
        return (
            row.benchmark,
            subject,
            row.into,
            _records(row.records),
            "-",
            "-",
            "-",
            "-",
            "-",
            row.goal,
            f"{row.status}: {row.reason}" if row.reason else row.status,
        )
    if row.benchmark.startswith("memory"):
        rss = " -> ".join(f"{v:.0f}" for v in row.rss_mib)
        ratio_text = "-" if row.ratio is None else f"{row.ratio:.2f}"
    else:
        rss = " / ".join(f"{v:.0f}" for v in row.rss_mib) or "-"
        ratio_text = (
            "1.00x" if row.baseline else ("-" if row.ratio is None else f"{row.ratio:.1f}x")
        )
    rate = row.rate
    return (
        row.benchmark,
        subject,
        row.into,
        _records(row.records),
        "-" if row.seconds is None else f"{row.seconds:.2f}",
        "-" if rate is None else f"{rate:,.0f}",
        "-" if row.streaming_rate is None else f"{row.streaming_rate:,.0f}",
        ratio_text,
        rss,
        row.goal,
        row.verdict or "ok",
    )


def format_table(rows: Sequence[Row], style: Literal["text", "markdown"] = "text") -> str:
    """The rows as an aligned text table or a Markdown table."""
    cells = [HEADERS, *(row_cells(r) for r in rows)]
    if style == "markdown":
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += [
            "| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in cells[1:]
        ]
        return "\n".join(lines)
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    numeric = {3, 4, 5, 6, 7}

    def fmt(line: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(HEADERS), rule, *(fmt(line) for line in cells[1:])])


def _records(n: int | None) -> str:
    if n is None:
        return "-"
    return short(n)


def short(n: float) -> str:
    """A count for people: 200000 -> 200k, 1000000 -> 1M, 1500 -> 1.5k; exact below 1000."""
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1_000_000:g}M"
    if n >= 1_000 and n % 100 == 0:
        return f"{n / 1_000:g}k"
    return f"{n:g}"
