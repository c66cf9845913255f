"""dlt's ``rest_api`` source, extract only: run with the dlt virtualenv's python.

Usage: ``python _dlt_extract.py CONFIG.json COUNT.json``. The config names the
base URL, the resources (path, params, data selector) and the paginator; the
extracted records land in dlt's own working folder (``pipelines_dir``), as a
dlt user's extract step leaves them. The record count is written to COUNT.json
so the harness can check it. Nothing of this project is imported here: the
dlt venv has only dlt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(config_path: str, count_path: str) -> int:
    """Extract every resource of the config; write ``{"records": n}`` to ``count_path``."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    counted = {"records": 0}

    def count(item: object) -> object:
        counted["records"] += 1
        return item

    source = rest_api_source(config["rest_api"])
    for resource in source.resources.values():
        resource.add_map(count)
    pipeline = dlt.pipeline(
        pipeline_name="latency_bench",
        pipelines_dir=config["pipelines_dir"],
        dataset_name="latency_bench",
    )
    pipeline.extract(source)
    Path(count_path).write_text(json.dumps(counted), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
