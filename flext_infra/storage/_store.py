"""Whole objects under one root: a local directory or an S3-compatible bucket prefix.

Built on fsspec (the filesystem layer the Singer SDK's BATCH files already use)
with s3fs for ``s3://``. s3fs and its boto stack are the ``flext-meltano[s3]``
extra and are imported only when an ``s3://`` root is opened, so a plugin
process without one never loads them.

Every write is whole. On S3 a ``PutObject`` (or a multipart upload, for
large bodies) is visible only once complete, so a process killed mid-write
leaves no object at all. Locally the bytes go to a hidden temporary file in
the same directory, renamed over the final name.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flext_infra._errors import ConfigurationError, FlextInfraError
from flext_infra.observability import get_logger, redact, redactor

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from flext_infra.settings import S3Settings

log = get_logger("flext.storage")

#: Schemes served by an object store (credentials from ``FLEXT_S3_*`` / ``AWS_*``).
OBJECT_SCHEMES = frozenset({"s3", "s3a"})
_SAFE_KEY_PART = re.compile(r"[^A-Za-z0-9._=-]+")


class StorageError(FlextInfraError):
    """An object could not be written, read or listed.

    The message names the URL (never a credential) and what to check.

    Attributes:
        url: The object or root URL.
        reason: ``not_found``, ``denied``, ``no_bucket`` or ``unavailable``.
    """

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(redact(message))
        self.url = url
        self.reason = reason


def is_object_url(url: str | os.PathLike[str]) -> bool:
    """True for ``s3://`` (and ``s3a://``) URLs; False for local paths."""
    return urlsplit(str(url)).scheme.lower() in OBJECT_SCHEMES


def safe_key_part(text: str) -> str:
    """``text`` usable as one segment of an object key (no ``/``, no spaces)."""
    return _SAFE_KEY_PART.sub("_", text).strip("_") or "_"


def s3_options(settings: S3Settings | None) -> dict[str, Any]:
    """s3fs keyword arguments from ``settings``.

    Credentials go in only when set; otherwise s3fs and boto use their default
    chain (``AWS_*`` variables, profiles, instance roles). With an endpoint URL
    (an S3-compatible server) addressing is path-style unless set otherwise.
    """
    if settings is None:
        from flext_infra.settings import S3Settings

        settings = S3Settings()
    options: dict[str, Any] = {}
    for option, value in (
        ("key", settings.access_key_id),
        ("secret", settings.secret_access_key),
        ("token", settings.session_token),
    ):
        if value is not None and value.get_secret_value():
            options[option] = value.get_secret_value()
    if settings.endpoint_url:
        options["endpoint_url"] = settings.endpoint_url
    if settings.region:
        options["client_kwargs"] = {"region_name": settings.region}
    style = settings.addressing_style
    if style == "auto":
        style = "path" if settings.endpoint_url else "virtual"
    options["config_kwargs"] = {"s3": {"addressing_style": style}}
    # Error messages and logs must never carry them, whatever the library prints.
    redactor.add(str(options[k]) for k in ("key", "secret", "token") if k in options)
    return options


class ObjectStore:
    """A root (``s3://bucket/prefix`` or a directory) where objects are written whole.

    Args:
        url: The root. A plain path or ``file://`` URL is a local directory.
        s3: Credentials and endpoint for ``s3://`` roots (default: read from
            ``FLEXT_S3_*`` / ``AWS_*``).
    """

    def __init__(self, url: str | os.PathLike[str], *, s3: S3Settings | None = None) -> None:
        text = str(url)
        self.remote = is_object_url(text)
        if self.remote:
            parts = urlsplit(text)
            if not parts.netloc:
                raise ConfigurationError(
                    f"{text}: an s3:// URL needs a bucket (s3://bucket/prefix)"
                )
            self.bucket = parts.netloc
            self.prefix = parts.path.strip("/")
            self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        else:
            local = Path(text.removeprefix("file://"))
            self.bucket = ""
            self.prefix = str(local)
            self.url = str(local)
        self._s3 = s3
        self._fs: AbstractFileSystem | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec filesystem (s3fs is imported here, on first use)."""
        if self._fs is None:
            if self.remote:
                try:
                    from s3fs import S3FileSystem
                except ModuleNotFoundError as exc:
                    raise ConfigurationError(
                        f"{self.url}: s3:// storage needs the flext-meltano[s3] extra "
                        "(pip install 'flext-meltano[s3]')"
                    ) from exc
                self._fs = S3FileSystem(**s3_options(self._s3))
            else:
                from fsspec.implementations.local import LocalFileSystem

                self._fs = LocalFileSystem()
        return self._fs

    def _path(self, key: str) -> str:
        key = key.lstrip("/")
        if self.remote:
            return "/".join(p for p in (self.bucket, self.prefix, key) if p)
        return str(Path(self.prefix) / key)

    def url_of(self, key: str) -> str:
        """The full URL (or local path) of ``key``."""
        path = self._path(key)
        return f"s3://{path}" if self.remote else path

    def _error(self, exc: BaseException, key: str, doing: str) -> StorageError:
        url = self.url_of(key)
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, FileNotFoundError):
            missing_bucket = "bucket" in text.lower()
            reason = "no_bucket" if missing_bucket else "not_found"
            hint = f"create the bucket {self.bucket!r}" if missing_bucket else "check the key"
        elif isinstance(exc, PermissionError):
            reason, hint = "denied", "check FLEXT_S3_ACCESS_KEY_ID / FLEXT_S3_SECRET_ACCESS_KEY"
        else:
            reason, hint = "unavailable", "check FLEXT_S3_ENDPOINT_URL and that the server is up"
        return StorageError(f"could not {doing} {url}: {text}; {hint}", url=url, reason=reason)

    # ------------------------------------------------------------------ objects
    def put(self, key: str, data: bytes) -> str:
        """Write ``data`` as the whole object ``key``; returns its URL.

        Raises:
            StorageError: the object could not be written (nothing partial is left).
        """
        if not self.remote:
            return self._put_local(key, data)
        path, fs = self._path(key), self.fs
        try:
            fs.pipe_file(path, data)
        except (OSError, ValueError) as exc:
            raise self._error(exc, key, "write") from exc
        return f"s3://{path}"

    def _put_local(self, key: str, data: bytes) -> str:
        final = Path(self._path(key))
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, final)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise self._error(exc, key, "write") from exc
        return str(final)

    def get(self, key: str) -> bytes:
        """The whole object ``key``.

        Raises:
            StorageError: it does not exist or cannot be read.
        """
        fs = self.fs
        try:
            data: bytes = fs.cat_file(self._path(key))
        except (OSError, ValueError) as exc:
            raise self._error(exc, key, "read") from exc
        return data

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (relative to the root), sorted; hidden temporaries skipped.

        Raises:
            StorageError: the root cannot be listed.
        """
        base = self._path("")
        start = self._path(prefix) if prefix else base
        fs = self.fs
        try:
            if self.remote:
                fs.invalidate_cache(base)
                found = fs.find(base) if fs.exists(base) else []
            else:
                found = fs.find(base) if Path(base).exists() else []
        except (OSError, ValueError) as exc:
            raise self._error(exc, prefix, "list") from exc
        keys = []
        for found_path in found:
            path = str(found_path)
            if not path.startswith(start.rstrip("/")):
                continue
            key = path[len(base.rstrip("/")) + 1 :] if base else path
            if not Path(key).name.startswith("."):
                keys.append(key)
        return sorted(keys)

    def __repr__(self) -> str:
        # The URL only: options (credentials) never appear in a repr.
        return f"ObjectStore({self.url!r})"
