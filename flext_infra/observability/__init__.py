"""Logging (structlog to stderr, with redaction) and run context."""

from flext_infra.observability._logging import (
    MASK,
    Redactor,
    bind_context,
    configure_logging,
    get_logger,
    log_context,
    redact,
    redact_mapping,
    redactor,
)

__all__ = [
    "MASK",
    "Redactor",
    "bind_context",
    "configure_logging",
    "get_logger",
    "log_context",
    "redact",
    "redact_mapping",
    "redactor",
]
