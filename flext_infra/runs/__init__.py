"""The run ledger and the run lock: what ran, when, with what counts, and one copy at a time.

``RunLedger`` records every ``flext run`` and every plugin run in
``flext_runs`` / ``flext_run_streams`` of the configured database (container
service ``run_ledger``); ``RunLock`` lets one run of a job (and of a Meltano
state id) run at once, refusing the next with :class:`LockHeldError`, whose
message names the holder.
"""

from flext_infra.runs._ledger import Heartbeat, RunLedger
from flext_infra.runs._lock import (
    LockHeldError,
    RunLock,
    RunLockError,
    advisory_key,
    describe_holder,
    job_key,
    state_key,
)
from flext_infra.runs._models import (
    JobStats,
    LockHolder,
    RunKind,
    RunRecord,
    RunStatus,
    StreamRun,
    Trigger,
    iso,
    merge_streams,
)
from flext_infra.runs._open import open_ledger
from flext_infra.runs._store import LedgerStore
from flext_infra.runs._tally import StreamTally

__all__ = [
    "Heartbeat",
    "JobStats",
    "LedgerStore",
    "LockHeldError",
    "LockHolder",
    "RunKind",
    "RunLedger",
    "RunLock",
    "RunLockError",
    "RunRecord",
    "RunStatus",
    "StreamRun",
    "StreamTally",
    "Trigger",
    "advisory_key",
    "describe_holder",
    "iso",
    "job_key",
    "merge_streams",
    "open_ledger",
    "state_key",
]
