"""One connector per database: Oracle, PostgreSQL and SQLite."""

from target_flext_oracle.connector import FlextConnector
from target_flext_oracle.dialects.oracle import OracleConnector, oracle_dialect
from target_flext_oracle.dialects.postgres import PostgresConnector
from target_flext_oracle.dialects.sqlite import SqliteConnector

#: Connector class per database family.
DIALECTS: dict[str, type[FlextConnector]] = {
    "oracle": OracleConnector,
    "postgresql": PostgresConnector,
    "sqlite": SqliteConnector,
}

__all__ = [
    "DIALECTS",
    "OracleConnector",
    "PostgresConnector",
    "SqliteConnector",
    "oracle_dialect",
]
