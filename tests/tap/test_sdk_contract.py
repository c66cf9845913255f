"""The SDK internals the tap replaces or repeats are the ones it was written against.

``FlextApiStream`` replaces ``Stream._sync_records`` (the fast loop) and
``_increment_stream_state`` (windowed runs), and the concurrent
``TapFlextApi._sync_concurrently`` repeats ``Tap.sync_all``'s preamble and
epilogue around its stream threads; the children prefetch mirrors
``_process_record``/``_sync_children``. If singer-sdk changes one of these,
this test fails: re-read the new code against the adapter, adjust it, then
update the digest here.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from singer_sdk import Tap
from singer_sdk.streams.core import Stream

#: qualified name -> (function, SHA-256 prefix of its source in singer-sdk 0.54).
PINNED: dict[str, tuple[Callable[..., Any], str]] = {
    "Tap.sync_all": (Tap.sync_all, "e4412393757b4cdc"),
    "Stream.sync": (Stream.sync, "6b4262dcdddf22b4"),
    "Stream._sync_records": (Stream._sync_records, "8928dc7f50e9bf57"),
    "Stream._increment_stream_state": (Stream._increment_stream_state, "cabc0edb2fd4f000"),
    "Stream._process_record": (Stream._process_record, "8529b9f3ce2f849d"),
    "Stream._sync_children": (Stream._sync_children, "465238efa6b2b84c"),
    "Stream._write_state_message": (Stream._write_state_message, "f82ecd8d16986823"),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_sdk_code_the_tap_adapts_is_unchanged(name: str) -> None:
    """Each SDK method the tap overrides or repeats has the source it was written against."""
    function, digest = PINNED[name]
    found = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    assert found == digest, (
        f"singer-sdk changed {name}: check tap_flext_api's adapter against it, then pin {found}"
    )
