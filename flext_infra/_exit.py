"""The exit codes every ``flext`` command and both plugins use, in one table.

A scheduler reads only the exit status, so each outcome that asks for a
different reaction has its own code, and a run that was stopped is never 0.

| Code | Name              | Meaning                                                          |
|------|-------------------|------------------------------------------------------------------|
| 0    | `OK`              | Success.                                                         |
| 1    | `FAILED`          | The check or run failed.                                         |
| 2    | `USAGE`           | Unknown command or option.                                       |
| 3    | `CONFIG`          | Invalid settings, no meltano.yml, unknown job.                   |
| 4    | `MISSING`         | A required tool is missing (meltano, the sample API).            |
| 5    | `REFUSED`         | Not started: another run of the job holds its lock.              |
| 75   | `QUOTA_EXHAUSTED` | The API's quota is spent; STATE covers what completed. Resume    |
|      |                   | later (``EX_TEMPFAIL`` in sysexits.h).                           |
| 124  | `TIMED_OUT`       | ``--timeout`` ran out (as GNU ``timeout``).                      |
| 130  | `INTERRUPTED`     | SIGINT (128 + 2).                                                |
| 143  | `TERMINATED`      | SIGTERM (128 + 15).                                              |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``flext``, ``tap-flext-api`` and ``target-flext-oracle``."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    MISSING = 4
    REFUSED = 5
    QUOTA_EXHAUSTED = 75
    TIMED_OUT = 124
    INTERRUPTED = 130
    TERMINATED = 143
