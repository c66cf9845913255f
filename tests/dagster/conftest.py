"""Dagster fixtures: the shipped project's definitions and a runnable copy of its environment."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from flext_infra.runs import RunLedger
from flext_infra.testing import SampleApi
from tests.conftest import ROOT, isolate_from_flext_environment

#: Records per WMS entity in the sample API the runs read.
COUNTS = {"allocation": 120, "order_hdr": 45, "order_dtl": 230}
USER, PASSWORD = "wms", "wms-pass-dagster"
RULES = "config/validation/wms.yml"
#: The multi-asset that runs the shipped project's jobs (tap-flext-api -> target-flext-oracle).
OP = "tap_flext_api_to_target_flext_oracle"

clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)


@pytest.fixture(autouse=True)
def signal_handlers_kept() -> Iterator[None]:
    """Dagster's in-process execution leaves SIGTERM mapped to SIGINT's handler
    (``dagster._utils.interrupts``): put both back, so later tests' children start as usual."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@dataclass
class RunEnv:
    """Where one test's runs keep their state, tables, alerts and data."""

    tmp: Path

    @property
    def warehouse(self) -> Path:
        """The SQLite database the target loads."""
        return self.tmp / "warehouse.db"

    @property
    def alerts(self) -> Path:
        """The test alert channel's folder (FLEXT_ALERT_RECORD_DIR)."""
        return self.tmp / "alerts"

    @property
    def ledger(self) -> RunLedger:
        """The run ledger the orchestrator and the plugins share (FLEXT_RUNS_URL)."""
        return RunLedger.from_url(f"sqlite:///{self.tmp}/ledger.db")

    def counts(self, *entities: str) -> dict[str, int]:
        """Rows per WMS table in the warehouse (every entity's by default)."""
        with sqlite3.connect(self.warehouse) as conn:
            return {
                entity: conn.execute(f'SELECT COUNT(*) FROM "wms_{entity}"').fetchone()[0]
                for entity in entities or COUNTS
            }


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample WMS API with a different size per entity."""
    with SampleApi(counts=COUNTS, username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture
def run_env(
    meltano_installed: None, api: SampleApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunEnv:
    """The `test` Meltano environment pointed at the sample API and a SQLite file, with rules.

    Meltano's variables configure both plugins, as in tests/e2e; the target's
    ``validation`` rules are the shipped WMS rules, which the asset checks read too.
    """
    for name, value in {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "FLEXT_ALERT_RECORD_DIR": str(tmp_path / "alerts"),
        "FLEXT_DATA_DIR": str(tmp_path / "data"),
        "TAP_FLEXT_API_BASE_URL": api.base_url,
        "TAP_FLEXT_API_USERNAME": USER,
        "TAP_FLEXT_API_PASSWORD": PASSWORD,
        "TARGET_FLEXT_ORACLE_SQLALCHEMY_URL": f"sqlite:///{tmp_path}/warehouse.db",
        "TARGET_FLEXT_ORACLE_VALIDATION": RULES,
        "FLEXT_RUNS_URL": f"sqlite:///{tmp_path}/ledger.db",
    }.items():
        monkeypatch.setenv(name, value)
    return RunEnv(tmp_path)


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """An ephemeral Dagster instance (in memory), shared by a module's runs."""
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


__all__ = ["COUNTS", "OP", "ROOT", "RULES", "RunEnv"]
