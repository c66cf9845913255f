"""The target's exceptions: one root, named for what the caller should do next."""

from __future__ import annotations


class TargetError(Exception):
    """Root of every error raised by target-flext-oracle."""


class TargetConfigError(TargetError):
    """The configuration cannot work (fix the settings and rerun)."""


class InputLineError(TargetError):
    """An input line is not a valid Singer message; carries the 1-based line number."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"input line {line_number}: {reason}")
        self.line_number = line_number
        self.reason = reason


class NameCollisionError(TargetError):
    """Two different fields would land in the same column after normalisation."""


class SchemaChangeError(TargetError):
    """An incompatible column type change met the ``fail`` policy."""


class BatchLoadError(TargetError):
    """A batch failed and was rolled back; names the stream, record range and cause."""

    def __init__(
        self,
        stream: str,
        first_record: int,
        last_record: int,
        first_line: int | None,
        last_line: int | None,
        cause: BaseException,
    ) -> None:
        lines = f", input lines {first_line}-{last_line}" if first_line is not None else ""
        super().__init__(
            f"stream '{stream}': batch of records {first_record}-{last_record}{lines} "
            f"was rolled back: {type(cause).__name__}: {cause}"
        )
        self.stream = stream
        self.first_record = first_record
        self.last_record = last_record
        self.first_line = first_line
        self.last_line = last_line
        self.cause = cause
