"""structlog configuration: one pipeline for our events and the stdlib's, on stderr.

stdout carries Singer messages, so nothing here ever writes to it. Secrets are
masked by a processor (:class:`Redactor`), not left to discipline: values under
secret-looking keys, and any known secret value wherever it appears.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from flext_infra.settings import FlextSettings

MASK = "**********"

SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|apikey|authorization|"
    r"credential|private[_-]?key|cookie|session[_-]?id|client[_-]?secret",
    re.IGNORECASE,
)

#: Third-party loggers routed through our pipeline, with the level they get.
ROUTED_LOGGERS = ("singer_sdk", "httpx", "httpcore", "oracledb", "sqlalchemy", "hishel", "meltano")

# Credentials embedded in URLs: scheme://user:password@host
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):[^@/\s]+@"
)


class Redactor:
    """A structlog processor that masks secrets.

    It masks the value of every key that looks secret (``password``, ``token``,
    ``api_key``, ``authorization``, …), every occurrence of a known secret
    value in any string, and the password part of URLs.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more secret values (values shorter than 4 characters are ignored)."""
        self._secrets.update(s for s in secrets if s and len(s) >= 4)
        if self._secrets:
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def scrub(self, value: Any) -> Any:
        """Return ``value`` with secrets masked (strings, mappings, sequences)."""
        if isinstance(value, str):
            if self._pattern is not None:
                value = self._pattern.sub(MASK, value)
            if "://" in value:
                value = _URL_CREDENTIALS.sub(rf"\g<scheme>\g<user>:{MASK}@", value)
            return value
        if isinstance(value, Mapping):
            return {
                k: (MASK if _is_secret_key(k) and v not in (None, "") else self.scrub(v))
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, BaseException):
            return self.scrub(f"{type(value).__name__}: {value}")
        return value

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        for key, value in list(event_dict.items()):
            if _is_secret_key(key) and value not in (None, ""):
                event_dict[key] = MASK
            else:
                event_dict[key] = self.scrub(value)
        return event_dict


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and SECRET_KEY_PATTERN.search(key) is not None


#: The process-wide redactor; settings and services teach it their secrets.
redactor = Redactor()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
    ]


def configure_logging(
    settings: FlextSettings | None = None,
    *,
    level: str | None = None,
    fmt: str | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Route structlog and the stdlib loggers to stderr through one redacting pipeline.

    Args:
        settings: Gives the level, the format (console in development and test,
            JSON in staging and production) and the secrets to redact.
        level: Overrides the settings' level.
        fmt: ``"console"`` or ``"json"``; overrides the settings' format.
        stream: Where to write; ``sys.stderr`` (looked up at each write) by default.
    """
    if settings is not None:
        redactor.add(settings.secret_values())
        level = level or settings.log_level
        fmt = fmt or settings.log_format
    level = (level or "INFO").upper()
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if _is_console_handler(h)]:
        # Replace, not add to, what was there (ours from an earlier call, or the
        # Singer SDK's console handler): one pipeline, each line written once.
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ROUTED_LOGGERS:
        lib = logging.getLogger(name)
        lib.handlers = [h for h in lib.handlers if isinstance(h, _StderrHandler)]
        lib.propagate = True
    # httpx logs every request at INFO; keep that for DEBUG runs only.
    for chatty in ("httpx", "httpcore", "hishel"):
        logging.getLogger(chatty).setLevel(max(logging.getLevelName(level), logging.WARNING))

    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    if settings is not None:
        _warn_unknown_variables(settings)


#: Unknown variables already warned about in this process (settings load more than once).
_warned: set[str] = set()


def _warn_unknown_variables(settings: FlextSettings) -> None:
    """Name each ``FLEXT_*`` variable no setting reads, once (here: logging works now).

    The settings are read before logging is configured, and an unconfigured
    structlog would print to stdout, which carries Singer messages.
    """
    log = structlog.get_logger("flext.settings")
    for name, close in settings.unknown_variables:
        if name in _warned:
            continue
        _warned.add(name)
        log.warning("settings.unknown_variable", variable=name, did_you_mean=close)


def _is_console_handler(handler: logging.Handler) -> bool:
    if isinstance(handler, _StderrHandler):
        return True
    consoles = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    return type(handler) is logging.StreamHandler and handler.stream in consoles


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler bound to stderr at write time, so test capture and redirects work."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> IO[str]:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        self._fixed = value if value is not sys.stderr else None


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A structlog logger. Emit dotted event names: ``log.info("http.retry", attempt=2)``."""
    return structlog.get_logger(name, **initial)


def bind_context(**values: Any) -> None:
    """Bind ``run_id``, ``job``, ``stream`` (or anything) to every later log line."""
    structlog.contextvars.bind_contextvars(**values)


@contextlib.contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Bind values to log lines inside the block only."""
    with structlog.contextvars.bound_contextvars(**values):
        yield


def redact(value: Any) -> Any:
    """Mask secrets in ``value`` with the process-wide redactor."""
    return redactor.scrub(value)


def redact_mapping(mapping: MutableMapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` with secret keys and known secret values masked."""
    return dict(redactor.scrub(dict(mapping)))
