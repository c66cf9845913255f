"""ServerFacts: version-driven capabilities the target uses for its type decisions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flext_infra.database import ServerFacts, parse_version


@pytest.mark.parametrize(
    ("version", "identifier_bytes", "json", "boolean"),
    [
        ((11, 2), 30, False, False),
        ((12, 1), 30, False, False),
        ((12, 2), 128, False, False),
        ((19, 0), 128, False, False),
        ((21, 3), 128, True, False),
        ((23, 4), 128, True, True),
    ],
)
def test_capabilities_follow_the_version(
    version: tuple[int, ...], identifier_bytes: int, json: bool, boolean: bool
) -> None:
    """128-byte identifiers from 12.2, JSON from 21c, BOOLEAN from 23ai."""
    facts = ServerFacts.for_version(version)
    assert facts.max_identifier_bytes == identifier_bytes
    assert facts.supports_json is json
    assert facts.supports_boolean is boolean


def test_max_string_size_decides_varchar2_limit() -> None:
    """EXTENDED allows 32767-byte VARCHAR2, STANDARD 4000."""
    assert ServerFacts.for_version((19,)).max_varchar2_bytes == 4000
    extended = ServerFacts.for_version("19.3.0.0.0", max_string_size_extended=True)
    assert extended.max_varchar2_bytes == 32767
    assert extended.version == (19, 3, 0, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19.3.0.0.0", (19, 3, 0, 0, 0)),
        ("23.4.0.24.05", (23, 4, 0, 24, 5)),
        (
            "Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production",
            (19, 0, 0, 0, 0),
        ),
        ("21", (21,)),
    ],
)
def test_parse_version_reads_versions_and_banners(text: str, expected: tuple[int, ...]) -> None:
    """Bare versions and server banners both parse to a tuple of ints."""
    assert parse_version(text) == expected


def test_parse_version_rejects_text_without_digits() -> None:
    """A string with no version in it is an error, not (0,)."""
    with pytest.raises(ValueError, match="not a version"):
        parse_version("unknown")


# No deadline: the machine is shared and timing says nothing here.
@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=99), min_size=1, max_size=5))
def test_version_string_round_trips(parts: list[int]) -> None:
    """Any dotted version parses back to its parts."""
    assert parse_version(".".join(map(str, parts))) == tuple(parts)


def test_thick_mode_without_client_libraries_is_a_clear_fatal_error() -> None:
    """A wrong FLEXT_ORACLE_THICK_LIB_DIR fails naming it (run in a subprocess: thick is global)."""
    code = (
        "from flext_infra.database import OracleConnectionManager, FatalDatabaseError\n"
        "m = OracleConnectionManager(host='127.0.0.1', port=1, service_name='s', user='u',"
        " password='pw-secret-9', thick_lib_dir='/nonexistent/instantclient')\n"
        "try:\n"
        "    m.pool\n"
        "except FatalDatabaseError as e:\n"
        "    print('FATAL', e)\n"
        "m.dispose()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("FATAL DPI-1047")
    assert "FLEXT_ORACLE_THICK_LIB_DIR=/nonexistent/instantclient" in proc.stdout
    assert "pw-secret-9" not in proc.stdout + proc.stderr
