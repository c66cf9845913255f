"""The ``target-flext-oracle`` console script: imports with the collector paused.

A run's start-up is mostly imports (SQLAlchemy, the Singer SDK, pydantic,
flext_infra): hundreds of thousands of objects that live as long as the
process and almost no garbage, yet every 700 new objects set off a
collection. Here the collector waits until they are loaded, and they are
frozen (``gc.freeze()``, as ``flext_infra.runtime.tune_gc_for_cli`` does) before it
runs again, so no collection ever scans them. That is why the package's
``__init__`` imports nothing until a name is asked for: this module runs first.
"""

from __future__ import annotations

import gc


def main() -> None:
    """Import the target with the collector paused, then run its command line."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        from target_flext_oracle.target import main as run
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    run()
