"""The module ``dagster dev -m flext_infra.orchestration.dagster_defs`` loads.

Run from the Meltano project's root (or set ``FLEXT_PROJECT_DIR``); the Meltano
environment is ``MELTANO_ENVIRONMENT`` or the project's default. See
docs/operations.md.
"""

from __future__ import annotations

import os

from flext_infra.orchestration.dagster import flext_definitions

defs = flext_definitions(
    project_dir=os.environ.get("FLEXT_PROJECT_DIR") or ".",
    environment=os.environ.get("MELTANO_ENVIRONMENT") or None,
)
