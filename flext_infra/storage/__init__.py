"""Object storage: whole objects under a local directory or an S3-compatible bucket.

fsspec with s3fs (the ``flext-meltano[s3]`` extra, imported only for ``s3://``
roots). Credentials come from ``FLEXT_S3_*`` or the standard ``AWS_*``
variables (:class:`~flext_infra.settings.S3Settings`) and never reach logs or
errors. See ``docs/operations.md`` (many workers).

    store = ObjectStore("s3://flext/rejects")
    store.put("run-1/allocation-00001.jsonl", data)
"""

from flext_infra.storage._store import (
    OBJECT_SCHEMES,
    ObjectStore,
    StorageError,
    is_object_url,
    s3_options,
    safe_key_part,
)

__all__ = [
    "OBJECT_SCHEMES",
    "ObjectStore",
    "StorageError",
    "is_object_url",
    "s3_options",
    "safe_key_part",
]
