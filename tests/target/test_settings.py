"""Settings: upstream keys and aliases, secrets, the SQLite default, flattening, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import target_flext_oracle
from target_flext_oracle import (
    LoadMethod,
    OracleConnector,
    PostgresConnector,
    SqliteConnector,
    TargetConfigError,
    TargetFlextOracle,
    TargetSettings,
)
from target_flext_oracle.dialects import connector_class_for
from tests.target.conftest import Db, rec, run_target, schema_msg, singer


@pytest.mark.parametrize(
    ("config", "batch", "method"),
    [
        ({"batch_size": 500, "load_method": "append_only"}, 500, LoadMethod.APPEND_ONLY),
        ({"batch_size_rows": 700, "load_method": "upsert"}, 700, LoadMethod.UPSERT),
        (
            {"batch_size_rows": 9, "batch_size": 500, "load_method": "overwrite"},
            9,
            LoadMethod.OVERWRITE,
        ),
        ({}, 10_000, LoadMethod.APPEND_ONLY),
    ],
)
def test_aliases_resolve(config: dict[str, Any], batch: int, method: LoadMethod) -> None:
    """batch_size aliases batch_size_rows (which wins), append_only means append-only."""
    settings = TargetSettings.from_config(config)
    assert settings.batch_size_rows == batch
    assert settings.load_method is method


@pytest.mark.parametrize(
    "config",
    [
        {
            "oracle_config": {
                "host": "db",
                "port": 1522,
                "service_name": "adb_high",
                "username": "etl",
                "password": "pw",
                "protocol": "tcps",
                "wallet_location": "/w",
            }
        },
        {
            "host": "db",
            "port": 1522,
            "service_name": "adb_high",
            "username": "etl",
            "password": "pw",
            "protocol": "tcps",
            "wallet_location": "/w",
        },
    ],
)
def test_nested_and_flat_oracle_keys_give_the_same_connection(config: dict[str, Any]) -> None:
    """The upstream nested oracle_config and the same keys flat both pick Oracle."""
    spec = TargetSettings.from_config(config).connection
    assert spec.family == "oracle"
    assert dict(spec.oracle) == {
        "host": "db",
        "port": 1522,
        "service_name": "adb_high",
        "user": "etl",
        "password": "pw",
        "protocol": "tcps",
        "wallet_location": "/w",
    }
    assert connector_class_for(config) is OracleConnector


def test_urls_pick_their_connector(tmp_path: Path) -> None:
    """sqlalchemy_url picks PostgreSQL or SQLite; nothing configured means embedded SQLite."""
    assert (
        connector_class_for({"sqlalchemy_url": "postgresql+psycopg://u@h/d"}) is PostgresConnector
    )
    assert connector_class_for({"sqlalchemy_url": "sqlite:///x.db"}) is SqliteConnector
    assert connector_class_for({}) is SqliteConnector
    with pytest.raises(TargetConfigError, match="unsupported database 'mysql'"):
        connector_class_for({"sqlalchemy_url": "mysql://h/d"})
    with pytest.raises(TargetConfigError, match="username is required"):
        TargetSettings.from_config({"oracle_config": {"host": "db", "service_name": "s"}})


def test_embedded_sqlite_default_lives_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a database the target loads into a file under FLEXT_DATA_DIR and logs where."""
    monkeypatch.setenv("FLEXT_DATA_DIR", str(tmp_path))
    props = {"id": {"type": "integer"}}
    run_target({}, singer(schema_msg("t", props, ["id"]), rec("t", {"id": 1})))
    path = tmp_path / "target_flext_oracle.sqlite"
    assert path.exists()
    err = capsys.readouterr().err
    assert "target.sqlite_default" in err and str(path) in err


def test_secrets_are_marked_secret_and_settings_documented() -> None:
    """Every setting has a title and description; passwords and the URL are secret."""
    props = TargetFlextOracle.config_jsonschema["properties"]
    for name in ("password", "wallet_password", "sqlalchemy_url"):
        assert props[name].get("secret") is True, name
    nested = props["oracle_config"]["properties"]
    assert nested["password"]["secret"] is True
    for name, prop in props.items():
        assert prop.get("description"), name
    for name in (
        "load_method",
        "schema_change_policy",
        "table_prefix",
        "batch_size",
        "default_target_schema",
        "add_record_metadata",
        "hard_delete",
        "validate_records",
        "flattening_enabled",
    ):
        assert name in props, name
    assert "append_only" in props["load_method"]["enum"]


def test_flattening_lands_fk_objects_as_columns(db: Db) -> None:
    """With flattening, a WMS foreign-key object lands as <field>_id / <field>_key columns."""
    props = {
        "id": {"type": "integer"},
        "facility_id": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "integer"}, "key": {"type": "string"}},
        },
    }
    config = {
        **db.config,
        "flattening_enabled": True,
        "flattening_max_depth": 1,
        "flattening_separator": "_",
        "table_prefix": "WMS_",
    }
    run_target(
        config,
        singer(
            schema_msg("order_hdr", props, ["id"]),
            rec("order_hdr", {"id": 1, "facility_id": {"id": 7, "key": "FAC7"}}),
        ),
    )
    row = db.rows("wms_order_hdr")[0]
    assert row["facility_id_id"] == 7 and row["facility_id_key"] == "FAC7"


def test_record_metadata_columns_are_added(db: Db) -> None:
    """add_record_metadata adds the _sdc_* columns with values."""
    config = {**db.config, "add_record_metadata": True}
    run_target(
        config, singer(schema_msg("t", {"id": {"type": "integer"}}, ["id"]), rec("t", {"id": 1}))
    )
    row = db.rows("t")[0]
    assert row["_sdc_received_at"] is not None and row["_sdc_deleted_at"] is None


def test_package_exports_match_all() -> None:
    """__all__ lists exactly the public names the package exports."""
    public = {n for n in dir(target_flext_oracle) if not n.startswith("_")}
    modules = {"columnar", "connector", "dialects", "sinks", "target"}
    assert set(target_flext_oracle.__all__) == public - modules
