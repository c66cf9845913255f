"""Oracle pool arguments, session setup and configuration checks (no server needed)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import oracledb
import pytest

from flext_infra.database import (
    ConnectionManager,
    DatabaseConfigurationError,
    DatabaseManager,
    OracleConnectionManager,
    WalletError,
    build_pool_params,
    create_database_manager,
    describe_target,
    oracle_settings,
    session_statement,
)
from flext_infra.settings import OracleSettings, load_settings
from tests.database._tls import WALLET_PASSWORD, make_wallet

PASSWORD = "Tr1cky'pw\"secret"


def _accepted_by_create_pool(params: dict[str, Any]) -> None:
    """Every keyword is one oracledb.create_pool accepts (a typo raises TypeError)."""
    inspect.signature(oracledb.create_pool).bind(**params)
    oracledb.PoolParams(**{k: v for k, v in params.items() if k != "dsn"})


def test_tcp_host_port_service_gives_fixed_size_pool_args() -> None:
    """host/port/service_name become oracledb keywords, with a fixed-size timed-wait pool."""
    s = oracle_settings(host="db.example", port=1600, service_name="ORCLPDB1", user="etl",
                        password=PASSWORD)  # fmt: skip
    params = build_pool_params(s)
    assert params == {
        "user": "etl",
        "password": PASSWORD,
        "min": 2,
        "max": 2,
        "increment": 0,
        "getmode": oracledb.POOL_GETMODE_TIMEDWAIT,
        "wait_timeout": 10_000,
        "homogeneous": True,
        "max_lifetime_session": 0,
        "ping_interval": 60,
        "tcp_connect_timeout": 10.0,
        "retry_count": 0,
        "retry_delay": 1,
        "host": "db.example",
        "port": 1600,
        "protocol": "tcp",
        "service_name": "ORCLPDB1",
    }
    # The real library accepts every keyword (a typo would raise TypeError here).
    pool_params = oracledb.PoolParams(**params)
    assert pool_params.min == pool_params.max == 2
    assert pool_params.increment == 0


def test_sid_instead_of_service_name() -> None:
    """A SID is passed as sid, without a service_name."""
    params = build_pool_params(oracle_settings(host="db", sid="ORCL", user="u", password="p"))
    assert params["sid"] == "ORCL"
    assert "service_name" not in params
    assert describe_target(oracle_settings(host="db", sid="ORCL", user="u")) == "db:1521:ORCL"


def test_pool_knobs_are_passed_through() -> None:
    """getmode, sizes, timeouts, lifetimes and retries reach create_pool as configured."""
    s = oracle_settings(
        host="db", service_name="S", user="u", pool_min=1, pool_max=8, pool_increment=1,
        pool_getmode="wait", max_lifetime_session=3600, ping_interval=-1,
        tcp_connect_timeout=2.5, retry_count=3, retry_delay=2,
    )  # fmt: skip
    params = build_pool_params(s)
    assert (params["min"], params["max"], params["increment"]) == (1, 8, 1)
    assert params["getmode"] == oracledb.POOL_GETMODE_WAIT
    assert "wait_timeout" not in params  # only meaningful for timedwait
    assert params["max_lifetime_session"] == 3600
    assert params["ping_interval"] == -1
    assert params["tcp_connect_timeout"] == 2.5
    assert (params["retry_count"], params["retry_delay"]) == (3, 2)
    _accepted_by_create_pool(params)


def test_tcps_withmake_wallet(tmp_path: Path) -> None:
    """TCPS passes protocol, wallet location and password, and DN matching."""
    wallet = make_wallet(tmp_path / "wallet")
    s = oracle_settings(
        host="adb.example.com", port=1522, service_name="x_high", user="ADMIN",
        password=PASSWORD, protocol="tcps", wallet_location=wallet,
        wallet_password=WALLET_PASSWORD, ssl_server_cert_dn="CN=adb.example.com",
    )  # fmt: skip
    params = build_pool_params(s)
    assert params["protocol"] == "tcps"
    assert params["wallet_location"] == str(wallet)
    assert params["wallet_password"] == WALLET_PASSWORD
    assert params["ssl_server_dn_match"] is True
    assert params["ssl_server_cert_dn"] == "CN=adb.example.com"
    assert describe_target(s) == "tcps://adb.example.com:1522/x_high"
    _accepted_by_create_pool(params)


def test_tns_alias_with_config_dir(tmp_path: Path) -> None:
    """A TNS alias is passed as dsn together with the directory holding tnsnames.ora."""
    s = oracle_settings(dsn="sales_prod", config_dir=tmp_path, user="u", password="p")
    params = build_pool_params(s)
    assert params["dsn"] == "sales_prod"
    assert params["config_dir"] == str(tmp_path)
    assert "host" not in params
    assert describe_target(s) == f"alias sales_prod ({tmp_path / 'tnsnames.ora'})"


def test_autonomous_database_alias_reads_tnsnames_frommake_wallet(tmp_path: Path) -> None:
    """An ADB alias with only a wallet uses the wallet directory as config_dir."""
    wallet = make_wallet(tmp_path / "Wallet_myadb")
    s = oracle_settings(dsn="myadb_high", wallet_location=wallet, wallet_password=WALLET_PASSWORD,
                        protocol="tcps", user="ADMIN", password=PASSWORD)  # fmt: skip
    params = build_pool_params(s)
    assert params["config_dir"] == str(wallet)
    assert params["wallet_location"] == str(wallet)
    assert params["ssl_server_dn_match"] is True
    _accepted_by_create_pool(params)


def test_tns_alias_without_config_dir_is_a_configuration_error() -> None:
    """A bare alias with nowhere to look it up names FLEXT_ORACLE_CONFIG_DIR."""
    with pytest.raises(DatabaseConfigurationError, match="FLEXT_ORACLE_CONFIG_DIR"):
        build_pool_params(oracle_settings(dsn="sales_prod", user="u"))


@pytest.mark.parametrize(
    ("dsn", "target"),
    [
        (
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCPS)(HOST=adb.eu.oraclecloud.com)(PORT=1522))"
            "(CONNECT_DATA=(SERVICE_NAME=abc_high.adb.oraclecloud.com)))",
            "tcps://adb.eu.oraclecloud.com:1522/abc_high.adb.oraclecloud.com",
        ),
        ("db.example:1521/ORCLPDB1", "db.example:1521/ORCLPDB1"),
        ("scott/tiger-secret@db.example:1521/ORCLPDB1", "db.example:1521/ORCLPDB1"),
    ],
)
def test_full_dsn_or_descriptor_is_passed_as_is(dsn: str, target: str) -> None:
    """A connect descriptor or Easy Connect string goes to dsn; the target shows no password."""
    s = oracle_settings(dsn=dsn, user="u")
    assert build_pool_params(s)["dsn"] == dsn
    assert "config_dir" not in build_pool_params(s)
    assert describe_target(s) == target


def test_session_statement_sets_nls_and_current_schema_in_one_round_trip() -> None:
    """NLS settings and CURRENT_SCHEMA become one ALTER SESSION, values quoted."""
    s = oracle_settings(
        host="db", service_name="S", user="u", nls_date_format="YYYY-MM-DD",
        nls_timestamp_tz_format="YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM", time_zone="UTC",
        nls_numeric_characters=".,", current_schema="wms_stage",
    )  # fmt: skip
    assert session_statement(s) == (
        "ALTER SESSION SET NLS_DATE_FORMAT = 'YYYY-MM-DD' "
        "NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM' "
        "NLS_NUMERIC_CHARACTERS = '.,' TIME_ZONE = 'UTC' CURRENT_SCHEMA = WMS_STAGE"
    )
    assert session_statement(oracle_settings(host="db", service_name="S", user="u")) is None
    quoted = oracle_settings(host="db", service_name="S", user="u", current_schema="Mixed Case",
                             time_zone="it's")  # fmt: skip
    assert session_statement(quoted) == (
        "ALTER SESSION SET TIME_ZONE = 'it''s' CURRENT_SCHEMA = \"Mixed Case\""
    )


def test_schema_name_with_a_quote_is_rejected() -> None:
    """A schema name that cannot be quoted safely is a configuration error, not SQL."""
    with pytest.raises(DatabaseConfigurationError, match="FLEXT_ORACLE_CURRENT_SCHEMA"):
        session_statement(oracle_settings(host="db", service_name="S", user="u",
                                          current_schema='x"; drop'))  # fmt: skip


def test_manager_passes_session_callback_only_when_needed() -> None:
    """The pool gets a session callback when NLS, schema or call timeout is configured."""
    plain = OracleConnectionManager(host="db", service_name="S", user="u", password="p")
    assert "session_callback" not in plain.pool_params()
    tuned = OracleConnectionManager(host="db", service_name="S", user="u", password="p",
                                    current_schema="STAGE")  # fmt: skip
    assert callable(tuned.pool_params()["session_callback"])
    plain.dispose()
    tuned.dispose()


def test_explicit_arguments_do_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyword arguments are the whole configuration; FLEXT_ORACLE_* apply via settings only."""
    monkeypatch.setenv("FLEXT_ORACLE_HOST", "from-env")
    monkeypatch.setenv("FLEXT_ORACLE_SERVICE_NAME", "ENVSVC")
    monkeypatch.setenv("FLEXT_ORACLE_USER", "envuser")
    explicit = OracleConnectionManager(host="explicit", service_name="S", user="u")
    assert explicit.target == "explicit:1521/S"
    from_settings = OracleConnectionManager(load_settings().oracle)
    assert from_settings.target == "from-env:1521/ENVSVC"
    mixed = OracleConnectionManager(load_settings().oracle, port=1700)
    assert mixed.target == "from-env:1700/ENVSVC"
    for manager in (explicit, from_settings, mixed):
        manager.dispose()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"service_name": "S", "user": "u"}, "FLEXT_ORACLE_HOST"),
        ({"host": "db", "user": "u"}, "FLEXT_ORACLE_SERVICE_NAME or FLEXT_ORACLE_SID"),
        ({"host": "db", "service_name": "S"}, "FLEXT_ORACLE_USER"),
        ({"host": "db", "dsn": "x:1/y", "user": "u", "service_name": "S"}, "set only one"),
        ({"host": "db", "service_name": "S", "user": "u", "port": 0}, "FLEXT_ORACLE_PORT"),
        ({"host": "db", "service_name": "S", "user": "u", "bogus": 1}, "unknown Oracle option"),
        ({"host": "db", "service_name": "S", "user": "u", "pool_min": 4}, "FLEXT_ORACLE_POOL_MIN"),
    ],
)
def test_unusable_settings_fail_naming_the_variable(options: dict[str, Any], expected: str) -> None:
    """Construction fails with a DatabaseConfigurationError naming what to set."""
    with pytest.raises(DatabaseConfigurationError, match=expected):
        OracleConnectionManager(**options)


def test_wallet_problems_are_found_before_any_network(tmp_path: Path) -> None:
    """A missing wallet dir, missing ewallet.pem, non-PEM or locked-without-password wallet fail."""
    base = {"host": "127.0.0.1", "port": 1, "service_name": "S", "user": "u",
            "password": PASSWORD, "protocol": "tcps"}  # fmt: skip
    with pytest.raises(WalletError, match="is not a directory"):
        OracleConnectionManager(**base, wallet_location=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WalletError, match=r"no ewallet\.pem"):
        OracleConnectionManager(**base, wallet_location=empty)
    (empty / "ewallet.pem").write_text("garbage")
    with pytest.raises(WalletError, match="not a PEM file"):
        OracleConnectionManager(**base, wallet_location=empty)
    wallet = make_wallet(tmp_path / "w")
    with pytest.raises(WalletError, match="FLEXT_ORACLE_WALLET_PASSWORD") as info:
        OracleConnectionManager(**base, wallet_location=wallet)
    assert PASSWORD not in str(info.value)
    assert not info.value.retriable
    ok = OracleConnectionManager(**base, wallet_location=wallet, wallet_password=WALLET_PASSWORD)
    ok.dispose()


def test_oracle_url_builds_an_oracle_manager() -> None:
    """create_database_manager reads SQLAlchemy's Oracle URL conventions (SID path, service)."""
    by_service = create_database_manager(
        "oracle+oracledb://etl:pw-secret-1@db.example:1600/?service_name=ORCLPDB1"
    )
    assert isinstance(by_service, OracleConnectionManager)
    assert by_service.target == "db.example:1600/ORCLPDB1"
    assert by_service.pool_params()["password"] == "pw-secret-1"
    by_sid = create_database_manager("oracle+oracledb://etl:pw@db.example/ORCL")
    assert isinstance(by_sid, OracleConnectionManager)
    assert by_sid.pool_params()["sid"] == "ORCL"
    assert create_database_manager(OracleSettings(host="h", service_name="s", user="u")).target
    by_service.dispose()
    by_sid.dispose()


def test_password_not_in_repr_or_target() -> None:
    """Neither repr nor target of a manager shows its password."""
    m = OracleConnectionManager(host="db", service_name="S", user="u", password=PASSWORD)
    assert PASSWORD not in repr(m)
    assert PASSWORD not in m.target
    assert PASSWORD not in repr(m.settings)
    m.dispose()


def test_both_managers_share_one_interface(tmp_path: Path) -> None:
    """OracleConnectionManager and DatabaseManager both satisfy ConnectionManager."""
    oracle = OracleConnectionManager(host="db", service_name="S", username="etl")
    sqlite = DatabaseManager(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        for manager in (oracle, sqlite):
            assert isinstance(manager, ConnectionManager)
        assert (oracle.dialect, sqlite.dialect) == ("oracle", "sqlite")
        assert oracle.settings.user == "etl"  # the upstream "username" key is accepted
    finally:
        oracle.dispose()
        sqlite.dispose()
