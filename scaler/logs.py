"""Logging setup: structlog configured once by the entry point, with secrets scrubbed.

Modules log with ``log = structlog.get_logger()`` and stable snake_case event names.
Every rendered line passes :func:`scrub_secrets`, which replaces any value that was
registered with :func:`register_secret` (the API token), wherever it appears.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import structlog

REDACTED = "[REDACTED]"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is scrubbed from every log line from now on."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``[REDACTED]``."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(item) for item in value)
    return value


def scrub_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: replace registered secrets in every field."""
    if not _secrets:
        return event_dict
    return {key: _scrub(value) for key, value in event_dict.items()}


def _scrub_rendered(_logger: Any, _method: str, rendered: str) -> str:
    """Last line of defence: scrub the rendered line too (exception text included)."""
    return redact(rendered) if _secrets else rendered


def configure_logging(*, log_format: str = "console", log_level: str = "info") -> None:
    """Configure structlog, and the standard library's logging, for this process.

    ``log_format`` is ``json`` or ``console``; ``log_level`` a level name. Lines from
    libraries (uvicorn, APScheduler) are rendered the same way as our own.
    """
    level = logging.getLevelNamesMapping()[log_level.upper()]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_secrets,
    ]
    renderer: list[Any]
    if log_format == "json":
        renderer = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=[*shared, *renderer, _scrub_rendered],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *renderer,
                _scrub_rendered,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
