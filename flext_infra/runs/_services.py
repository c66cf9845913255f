"""Container registration of ``run_ledger`` (a singleton)."""

from __future__ import annotations

from flext_infra.environments._profiles import ServiceSpec
from flext_infra.runs._ledger import RunLedger
from flext_infra.runs._open import open_ledger

SERVICES: tuple[ServiceSpec, ...] = (ServiceSpec("run_ledger", open_ledger, aliases=(RunLedger,)),)
