"""BATCH messages: the Singer SDK's batch files, written to a local root or S3.

With ``batch_config`` set, the SDK writes each stream's records into JSONL
files (gzip-compressed; its JSONL batcher always compresses) of
``batch_size`` records under ``storage.root`` and emits one BATCH message per
file, each followed by a STATE. A target then loads the files instead of
reading every record through the pipe: how large extracts move between
workers. Here the config is checked (only what the SDK writes correctly is
accepted), and an ``s3://`` root gets the ``FLEXT_S3_*`` / ``AWS_*``
credentials and endpoint (:func:`flext_infra.storage.s3_options`), so they
never have to be written into the tap's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singer_sdk.helpers._batch import BatchConfig

from flext_infra.runtime import current_settings
from flext_infra.storage import is_object_url, s3_options


def check_batch_config(config: Mapping[str, Any]) -> None:
    """Refuse a ``batch_config`` the SDK would write wrongly.

    Raises:
        ValueError: naming the setting and what is accepted.
    """
    raw = config.get("batch_config")
    if not raw:
        return
    encoding = raw.get("encoding") or {}
    storage = raw.get("storage") or {}
    if encoding.get("format") != "jsonl" or encoding.get("compression") != "gzip":
        raise ValueError(
            "batch_config.encoding: only {format: jsonl, compression: gzip} is supported "
            "(the SDK's JSONL batcher always compresses)"
        )
    if not storage.get("root"):
        raise ValueError("batch_config.storage.root: a directory URL or s3://bucket/prefix")
    size = raw.get("batch_size")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"batch_config.batch_size: must be a positive integer (got {size!r})")


def batch_config(config: Mapping[str, Any]) -> BatchConfig | None:
    """The SDK's :class:`BatchConfig`, with S3 credentials for an ``s3://`` root."""
    raw = config.get("batch_config")
    if not raw:
        return None
    batch = BatchConfig.from_dict(dict(raw))
    if is_object_url(batch.storage.root):
        # Explicit storage params (rarely used) win over the FLEXT_S3_* settings.
        batch.storage.params = {**s3_options(current_settings().s3), **batch.storage.params}
    return batch
