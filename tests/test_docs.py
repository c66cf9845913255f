"""Generated files match their sources: the configuration reference and the plugin definitions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "script",
    ["scripts/gen_config_reference.py", "scripts/gen_meltano_settings.py"],
    ids=["docs/configuration.md", "plugins/*.meltano.yml"],
)
def test_generated_file_is_current(script: str) -> None:
    """A setting changed without regenerating its docs or Meltano definition fails here."""
    proc = subprocess.run(
        [sys.executable, script, "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
