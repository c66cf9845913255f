"""The table plan: where a stream's fields land, and the DDL a table needs before a batch.

Plain data shared by the connector (which builds and applies plans) and the
sinks (which load along them); nothing here talks to a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from target_flext_oracle._logical import LogicalType


@dataclass(frozen=True)
class TableRef:
    """A table's physical (lower-case, normalised) schema and name."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass
class ColumnState:
    """A column as the database has it."""

    name: str
    logical: LogicalType
    nullable: bool = True


@dataclass
class TableState:
    """A table as the database has it (columns keyed by physical name)."""

    ref: TableRef
    columns: dict[str, ColumnState]
    primary_key: tuple[str, ...] = ()


@dataclass
class FieldPlan:
    """Where one stream field lands and as what."""

    field: str
    column: str
    source: LogicalType
    target: LogicalType
    nullable: bool = True


@dataclass
class TablePlan:
    """The DDL a stream needs before its first batch, and the field layout."""

    ref: TableRef
    fields: list[FieldPlan]
    keys: tuple[str, ...]
    create: bool = False
    add: list[FieldPlan] = field(default_factory=list)
    widen: list[tuple[str, LogicalType, LogicalType]] = field(default_factory=list)
    to_text: list[tuple[str, LogicalType, LogicalType]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Physical column names in load order."""
        return [f.column for f in self.fields]

    @property
    def has_ddl(self) -> bool:
        """True while some DDL is still to run."""
        return bool(self.create or self.add or self.widen or self.to_text)
