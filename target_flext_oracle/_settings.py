"""The target's settings: the config JSON schema and a typed view of a validated config.

The JSON schema (``CONFIG_SCHEMA``) is the one source of truth Meltano,
``--about`` and the environment read. :class:`TargetSettings` is built once
from the already-validated config and resolves the aliases (``batch_size`` ->
``batch_size_rows``, ``append_only`` -> ``append-only``) and the connection
(nested ``oracle_config``, flat keys, or ``sqlalchemy_url``; SQLite when none).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from flext_infra.runtime import current_settings
from flext_infra.storage import is_object_url
from target_flext_oracle._errors import TargetConfigError

DEFAULT_BATCH_SIZE = 10_000
#: Batches smaller than this load per record on the columnar path: a run that never
#: fills one never imports pyarrow (its import is most of a small run's start-up).
DEFAULT_COLUMNAR_MIN_ROWS = 1_000
DEFAULT_SQLITE_FILE = "target_flext_oracle.sqlite"


class LoadMethod(enum.StrEnum):
    """How a batch lands in its table."""

    APPEND_ONLY = "append-only"
    UPSERT = "upsert"
    OVERWRITE = "overwrite"


class SchemaChangePolicy(enum.StrEnum):
    """What to do when a column's type changes incompatibly."""

    EVOLVE = "evolve"  # add a sibling column named <column>__<kind>
    FAIL = "fail"  # stop the run, naming the column and both types
    TEXT = "text"  # convert the column to text and keep loading


_ORACLE_KEYS = (
    th.Property("host", th.StringType, title="Host", description="Oracle listener host."),
    th.Property(
        "port",
        th.IntegerType,
        title="Port",
        description="Listener port (1521, or 1522 for TCPS).",
    ),
    th.Property("service_name", th.StringType, title="Service Name", description="Service name."),
    th.Property("sid", th.StringType, title="SID", description="SID (instead of a service name)."),
    th.Property("dsn", th.StringType, title="DSN", description="Full DSN or TNS alias."),
    th.Property("username", th.StringType, title="Username", description="Database user."),
    th.Property("user", th.StringType, title="User", description="Alias of username."),
    th.Property("password", th.StringType, title="Password", description="Password.", secret=True),
    th.Property(
        "protocol",
        th.StringType,
        title="Protocol",
        description="tcp, or tcps for TLS (Autonomous Database).",
        allowed_values=["tcp", "tcps"],
    ),
    th.Property(
        "wallet_location",
        th.StringType,
        title="Wallet Location",
        description="Directory holding the wallet (ewallet.pem) for TCPS.",
    ),
    th.Property(
        "wallet_password",
        th.StringType,
        title="Wallet Password",
        description="Password of the wallet.",
        secret=True,
    ),
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "sqlalchemy_url",
        th.StringType,
        title="SQLAlchemy URL",
        description=(
            "Connection URL, e.g. postgresql+psycopg://user@127.0.0.1/test, "
            "sqlite:///path.db or oracle+oracledb://user:pw@host:1521/?service_name=X. "
            "Takes precedence over the Oracle keys."
        ),
        secret=True,
    ),
    th.Property(
        "oracle_config",
        th.ObjectType(*_ORACLE_KEYS),
        title="Oracle Connection",
        description="Nested Oracle connection keys (the upstream layout); flat keys also work.",
    ),
    *_ORACLE_KEYS,
    th.Property(
        "sqlite_path",
        th.StringType,
        title="SQLite Path",
        description=(
            "SQLite file used when no database is configured. Default: "
            f"<FLEXT_DATA_DIR or .flext>/{DEFAULT_SQLITE_FILE}."
        ),
    ),
    th.Property(
        "table_prefix",
        th.StringType,
        default="",
        title="Table Prefix",
        description="Prefix for every table name, e.g. WMS_.",
    ),
    th.Property(
        "batch_size",
        th.IntegerType,
        title="Batch Size",
        description="Alias of batch_size_rows (the upstream name).",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        title="Batch Size Rows",
        description=f"Rows per batch (one transaction each). Default {DEFAULT_BATCH_SIZE}.",
    ),
    th.Property(
        "load_method",
        th.StringType,
        default="append-only",
        title="Load Method",
        description=(
            "append-only: bulk insert every record. upsert: stage, dedupe keys in the "
            "batch (last wins), then MERGE / INSERT ... ON CONFLICT. overwrite: load a "
            "new table and swap it in when the stream completes. append_only is accepted."
        ),
        allowed_values=["append-only", "append_only", "upsert", "overwrite"],
    ),
    th.Property(
        "schema_change_policy",
        th.StringType,
        default="evolve",
        title="Schema Change Policy",
        description=(
            "For incompatible column type changes: evolve (add a sibling column "
            "<column>__<kind>), fail (stop the run) or text (convert the column to text). "
            "Compatible changes (new columns, wider types) are always applied."
        ),
        allowed_values=["evolve", "fail", "text"],
    ),
    th.Property(
        "reject_path",
        th.StringType,
        title="Reject Path",
        description=(
            "Where rejected records go: a directory (<run_id>.jsonl) or s3://bucket/prefix "
            "(whole objects <run_id>/<stream>-<part>.jsonl). "
            "Default: FLEXT_QUALITY_REJECT_URL, else <FLEXT_DATA_DIR or .flext>/rejects."
        ),
    ),
    th.Property(
        "max_rejects",
        th.IntegerType,
        title="Max Rejects",
        description="Fail the run when more records than this are rejected (unset: no limit).",
    ),
    th.Property(
        "validation",
        th.CustomType({"type": ["object", "string", "null"]}),
        title="Validation Rules",
        description=(
            "Data-quality rules for flext_infra.quality's data_validator (a mapping or a "
            "YAML path): per-field required/not_null/min/max/enum/regex/max_length, "
            "freshness, and thresholds (max_reject_ratio, min_records) that fail the run."
        ),
    ),
    th.Property(
        "oracle_array_size",
        th.IntegerType,
        default=5000,
        title="Oracle Array Size",
        description="Rows per executemany round trip on Oracle.",
    ),
    th.Property(
        "columnar",
        th.BooleanType,
        default=True,
        title="Columnar Load Path",
        description=(
            "Decode each batch of a stream into Arrow columns and load it through the "
            "database driver's bulk path (binary COPY on PostgreSQL, ADBC on SQLite, "
            "DataFrame ingestion on Oracle), loading one batch while the next is decoded. "
            "Streams with add_record_metadata, validation rules or hard deletes load per "
            "record either way. false: every stream loads per record."
        ),
    ),
    th.Property(
        "columnar_min_rows",
        th.IntegerType,
        title="Columnar Minimum Rows",
        description=(
            "Batches with fewer records load per record even on the columnar path "
            f"(default {DEFAULT_COLUMNAR_MIN_ROWS}): small runs then never pay for "
            "importing Arrow."
        ),
    ),
    th.Property(
        "direct_path_load",
        th.BooleanType,
        default=False,
        title="Direct Path Load",
        description=(
            "append-only on Oracle: load with python-oracledb's direct path interface "
            "(thin mode, oracledb >= 3.4; Arrow batches on the columnar path) instead of "
            "executemany."
        ),
    ),
).to_dict()


@dataclass(frozen=True)
class ConnectionSpec:
    """Where to connect: a SQLAlchemy URL, or Oracle keyword arguments."""

    url: str | None = None
    oracle: Mapping[str, Any] = field(default_factory=dict)
    sqlite_default: Path | None = None

    @property
    def family(self) -> str:
        """``oracle``, ``postgresql`` or ``sqlite``."""
        if self.oracle:
            return "oracle"
        if self.url is None:
            raise TargetConfigError("no database configured")
        scheme = self.url.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme in {"postgresql", "postgres"}:
            return "postgresql"
        if scheme in {"oracle", "sqlite"}:
            return scheme
        raise TargetConfigError(f"sqlalchemy_url: unsupported database {scheme!r}")


@dataclass(frozen=True)
class TargetSettings:
    """A typed view of a validated config."""

    connection: ConnectionSpec
    default_target_schema: str | None
    table_prefix: str
    batch_size_rows: int
    load_method: LoadMethod
    schema_change_policy: SchemaChangePolicy
    add_record_metadata: bool
    hard_delete: bool
    validate_records: bool
    reject_path: Path | str
    max_rejects: int | None
    oracle_array_size: int
    direct_path_load: bool
    columnar: bool = True
    columnar_min_rows: int = DEFAULT_COLUMNAR_MIN_ROWS
    validation: Any = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        """Resolve aliases and the connection from a validated config.

        Raises:
            TargetConfigError: contradicting or unusable values.
        """
        batch = config.get("batch_size_rows") or config.get("batch_size") or DEFAULT_BATCH_SIZE
        if int(batch) < 1:
            raise TargetConfigError(f"batch_size_rows must be at least 1 (got {batch})")
        method = str(config.get("load_method") or "append-only").replace("_", "-")
        try:
            load_method = LoadMethod(method)
        except ValueError:
            raise TargetConfigError(
                f"load_method: {method!r} is not one of append-only, upsert, overwrite"
            ) from None
        policy = str(config.get("schema_change_policy") or "evolve")
        try:
            schema_policy = SchemaChangePolicy(policy)
        except ValueError:
            raise TargetConfigError(
                f"schema_change_policy: {policy!r} is not one of evolve, fail, text"
            ) from None
        data_dir = _data_dir()
        reject_path = config.get("reject_path") or current_settings().quality.reject_url
        return cls(
            connection=_connection(config, data_dir),
            default_target_schema=config.get("default_target_schema") or None,
            table_prefix=str(config.get("table_prefix") or ""),
            batch_size_rows=int(batch),
            load_method=load_method,
            schema_change_policy=schema_policy,
            add_record_metadata=bool(config.get("add_record_metadata", False)),
            hard_delete=bool(config.get("hard_delete", False)),
            validate_records=bool(config.get("validate_records", True)),
            reject_path=_reject_location(reject_path, data_dir),
            max_rejects=config.get("max_rejects"),
            oracle_array_size=max(1, int(config.get("oracle_array_size") or 5000)),
            direct_path_load=bool(config.get("direct_path_load", False)),
            columnar=bool(config.get("columnar", True)),
            columnar_min_rows=max(
                1, int(config.get("columnar_min_rows") or DEFAULT_COLUMNAR_MIN_ROWS)
            ),
            validation=config.get("validation"),
        )


def _reject_location(configured: str | None, data_dir: Path) -> Path | str:
    """An ``s3://`` URL as given, else a local directory."""
    if not configured:
        return data_dir / "rejects"
    return configured if is_object_url(configured) else Path(configured)


def _data_dir() -> Path:
    # The infrastructure's data dir (FLEXT_DATA_DIR), from the plugin runtime's settings.
    return current_settings().data_dir


_ORACLE_FIELDS = (
    "host",
    "port",
    "service_name",
    "sid",
    "dsn",
    "username",
    "user",
    "password",
    "protocol",
    "wallet_location",
    "wallet_password",
)


def _connection(config: Mapping[str, Any], data_dir: Path) -> ConnectionSpec:
    url = config.get("sqlalchemy_url")
    if url:
        return ConnectionSpec(url=str(url))
    nested = config.get("oracle_config") or {}
    merged = {k: config[k] for k in _ORACLE_FIELDS if config.get(k) not in (None, "")}
    merged.update({k: v for k, v in nested.items() if v not in (None, "")})
    if "username" in merged:
        merged.setdefault("user", merged.pop("username"))
    if merged.get("host") or merged.get("dsn"):
        if not merged.get("user"):
            raise TargetConfigError("oracle_config: a username is required with a host or dsn")
        if not (merged.get("service_name") or merged.get("sid") or merged.get("dsn")):
            raise TargetConfigError("oracle_config: service_name, sid or dsn is required")
        return ConnectionSpec(oracle=merged)
    path = Path(config.get("sqlite_path") or data_dir / DEFAULT_SQLITE_FILE)
    return ConnectionSpec(url=f"sqlite:///{path}", sqlite_default=path)
