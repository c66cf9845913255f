"""The validation report: counts per rule and stream, samples, and broken thresholds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flext_infra._errors import FlextInfraError


@dataclass(frozen=True)
class Breach:
    """One broken threshold.

    Attributes:
        stream: The stream.
        kind: ``max_reject_ratio``, ``min_records`` or ``freshness``.
        message: What was expected and what was seen.
    """

    stream: str
    kind: str
    message: str


@dataclass
class StreamReport:
    """What one stream's records did in this run."""

    stream: str
    records: int = 0
    rejected: int = 0
    #: Failures by rule (a record may break several rules).
    by_rule: Counter[str] = field(default_factory=Counter)
    #: Failures by ``field:rule``.
    by_field: Counter[str] = field(default_factory=Counter)
    #: The first few failures: key, field, rule, reason.
    samples: list[dict[str, Any]] = field(default_factory=list)
    #: The newest freshness-field value seen, ISO-8601.
    newest: str | None = None

    @property
    def valid(self) -> int:
        """Records that passed."""
        return self.records - self.rejected

    @property
    def reject_ratio(self) -> float:
        """rejected / records (0 when there were none)."""
        return self.rejected / self.records if self.records else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "stream": self.stream,
            "records": self.records,
            "valid": self.valid,
            "rejected": self.rejected,
            "reject_ratio": round(self.reject_ratio, 6),
            "by_rule": dict(self.by_rule),
            "by_field": dict(self.by_field),
            "samples": list(self.samples),
            "newest": self.newest,
        }


@dataclass
class QualityReport:
    """The whole run: one :class:`StreamReport` per stream and every broken threshold."""

    run_id: str
    streams: dict[str, StreamReport] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    reject_path: str | None = None
    #: Problems configured as warnings (``freshness.action: warn``): reported, not fatal.
    warnings: list[Breach] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no threshold was broken (rejects alone do not fail a run)."""
        return not self.breaches

    @property
    def records(self) -> int:
        """Records received across streams."""
        return sum(s.records for s in self.streams.values())

    @property
    def rejected(self) -> int:
        """Records rejected across streams."""
        return sum(s.rejected for s in self.streams.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "records": self.records,
            "rejected": self.rejected,
            "reject_path": self.reject_path,
            "streams": {name: s.to_dict() for name, s in self.streams.items()},
            "breaches": [b.__dict__ for b in self.breaches],
            "warnings": [w.__dict__ for w in self.warnings],
        }

    def raise_if_failed(self) -> None:
        """Raise :class:`ThresholdBreachError` when a threshold was broken."""
        if self.breaches:
            raise ThresholdBreachError(self)


class DataQualityError(FlextInfraError):
    """Root of data quality errors."""


class ThresholdBreachError(DataQualityError):
    """A validation threshold was broken: the run must fail.

    Attributes:
        report: The report naming every breach.
    """

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        lines = "; ".join(f"{b.stream}: {b.message}" for b in report.breaches)
        super().__init__(f"data quality thresholds broken: {lines}")
