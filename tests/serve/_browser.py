"""Headless Chromium (Debian's ``chromium``) for the status page: the DOM and a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Screenshots are test artefacts: kept here (gitignored), never committed.
ARTIFACTS = REPO / ".artifacts"

#: Flags that work on this machine (no sandbox as root, no GPU, no network but ours).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    """The browser's path; CI installs it (``.ci/run``), elsewhere the test skips visibly."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # A new empty profile each time: no state carried between runs.
    with tempfile.TemporaryDirectory(prefix="flext-chromium-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


def dump_dom(url: str) -> str:
    """The DOM Chromium built from ``url``, serialised."""
    done = _run("--dump-dom", url)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(url: str, name: str, size: str = "1280,1000") -> Path:
    """A PNG of ``url`` as Chromium renders it, kept under ``.artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    done = _run(f"--window-size={size}", f"--screenshot={path}", url)
    assert done.returncode == 0 and path.is_file(), done.stderr[-2000:]
    return path
