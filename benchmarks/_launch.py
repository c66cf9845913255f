"""Run one command; write its exit code, peak RSS and start/end times as JSON.

Usage: ``python -S -E _launch.py REPORT.json -- COMMAND [ARGS...]``

Why a launcher: on Linux a child's ``ru_maxrss`` starts from the memory
high-water mark of the process it was forked from. At ``exec`` the kernel
folds the old (parent's) address space into the child's ``maxrss``, and vfork
and posix_spawn do the same. The harness holds the sample API's rendered pages,
hundreds of MiB, so a subject it started directly would report at least the
harness's size. Started from this small process instead, the floor is this
launcher's few MiB and the figure is the subject's own. ``-S -E`` keep the
launcher free of site-packages, so it stays small.

It imports only the standard library and nothing from ``benchmarks``, because
it runs without site-packages.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    """Spawn the command with inherited stdio, wait for it, write the report."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: _launch.py REPORT.json -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    report_path, command = argv[0], argv[2:]
    started = time.monotonic()
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as exc:
        print(f"cannot start {command[0]}: {exc}", file=sys.stderr)
        report = {"returncode": 127, "maxrss_kib": 0, "start": started, "end": time.monotonic()}
        code = 127
    else:
        _, status, usage = os.wait4(pid, 0)
        ended = time.monotonic()
        code = os.waitstatus_to_exitcode(status)
        report = {"returncode": code, "maxrss_kib": usage.ru_maxrss, "start": started, "end": ended}
    with open(report_path, "w", encoding="utf-8") as out:
        json.dump(report, out)
    # A signal death is reported in the file; the exit status only needs to be non-zero.
    return code if 0 <= code < 256 else 128 + (-code if code < 0 else 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
