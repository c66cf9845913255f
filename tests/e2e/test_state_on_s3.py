"""Must hold 7: `meltano run` in the shipped `prod` environment keeps its state on S3.

The state backend is the S3-compatible SeaweedFS server, reached by host name
(``localhost``), so only path-style addressing can work (virtual-hosted style
would look for ``<bucket>.localhost``, which does not resolve): boto3 uses
path-style for a custom endpoint URL. The variables are exactly the ones
docs/operations.md tells a deployment to set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from flext_infra.testing import SampleApi
from tests._seaweedfs import S3Server
from tests.e2e.conftest import MeltanoProject

pytestmark = pytest.mark.meltano

STATE_ID = "prod:tap-flext-api-to-target-flext-oracle"
PIPELINE = ("run", "tap-flext-api", "target-flext-oracle")


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample WMS API."""
    with SampleApi(
        counts={"allocation": 60, "order_hdr": 20, "order_dtl": 40},
        username="wms",
        password="wms-pass-prod",
    ) as server:
        yield server


def test_prod_keeps_its_bookmarks_on_s3_and_the_next_run_reads_only_new_records(
    project: MeltanoProject, api: SampleApi, s3_server: S3Server, s3_root: str
) -> None:
    """The bookmark is written to the bucket, `meltano state get` reads it back from there,
    and a second incremental run reads only the records added or changed since."""
    port = s3_server.endpoint_url.rsplit(":", 1)[1]
    project.env.update(
        MELTANO_ENVIRONMENT="prod",
        MELTANO_STATE_BACKEND_URI=f"{s3_root}/meltano-state",
        MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=f"http://localhost:{port}",
        MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID=s3_server.access_key_id,
        MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY=s3_server.secret_access_key,
        FLEXT_API_BASE_URL=api.base_url,
        # Production logs JSON; the METRIC lines read below are parsed from console lines.
        FLEXT_LOG_FORMAT="console",
    )
    project.point_tap_at(api.base_url, "wms", "wms-pass-prod")
    first = project.run(*PIPELINE)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.metric_counts("tap-flext-api")["allocation"] == 60

    fs = s3_server.filesystem()
    stored = [p for p in fs.find(s3_root.removeprefix("s3://")) if p.endswith(".json")]
    assert any(STATE_ID in p for p in stored), stored

    state = project.run("state", "get", STATE_ID)
    assert state.returncode == 0, state.stderr[-2000:]
    bookmark = json.loads(state.stdout)["singer_state"]["bookmarks"]["allocation"]
    newest = max(api.record("allocation", i)["mod_ts"] for i in range(1, 61))
    assert bookmark["replication_key_value"].startswith(newest[:19])

    added = api.add_records("allocation", 4)
    second = project.run(*PIPELINE)
    assert second.returncode == 0, second.stderr[-3000:]
    emitted = second.metric_counts("tap-flext-api")
    # mod_ts__gte is inclusive: the record holding the bookmark may be read again.
    assert len(added) <= emitted["allocation"] <= len(added) + 1
    assert emitted.get("order_hdr", 0) <= 1 and emitted.get("order_dtl", 0) <= 1
    for secret in (s3_server.secret_access_key, "wms-pass-prod"):
        assert secret not in first.stderr + second.stderr + state.stderr
