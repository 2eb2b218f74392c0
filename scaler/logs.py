"""Logging setup: structlog configured once by the entry point, with secrets scrubbed.

Modules log with ``log = structlog.get_logger()`` and stable snake_case event names.
Every rendered line passes :func:`scrub_secrets`, which replaces any value that was
registered with :func:`register_secret` (the API token, the database password) by
``***`` where it is a whole value (:mod:`scaler.redaction`: a short password never eats
into the words around it), and also the start of one cut short (text shortened for
display keeps a secret's first characters). Tracebacks are rendered without their frames' local variables: those hold
request headers, and a rich or JSON rendering cuts and wraps long values, which would
leave parts of a secret that no scrubber recognises.

:func:`cycle_logging` binds a ``cycle_id`` (and the ``cycle``'s kind) to every line
logged during one reconcile, health poll or boundary, through structlog's contextvars,
so that one cycle's lines can be followed among the others.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
import structlog.tracebacks

from scaler.redaction import MARKER, MIN_FREE_LENGTH, redact_secret

REDACTED = MARKER
#: Characters from a secret's start that are scrubbed even when the rest is missing (cut off).
SECRET_PREFIX_CHARS = 12

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


@contextmanager
def cycle_logging(cycle: str) -> Iterator[str]:
    """Bind a new ``cycle_id`` and ``cycle`` (``reconcile``, ``health``, ``boundary``) to every line logged
    inside; yield the id. Inside a cycle already bound (a health poll a reconcile runs first) the
    outer cycle's id stays, so that its lines stay together."""
    bound = structlog.contextvars.get_contextvars()
    if "cycle_id" in bound:
        yield str(bound["cycle_id"])
        return
    cycle_id = secrets.token_hex(6)
    with structlog.contextvars.bound_contextvars(cycle_id=cycle_id, cycle=cycle):
        yield cycle_id


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is scrubbed from every log line from now on (one shorter than
    :data:`~scaler.redaction.MIN_FREE_LENGTH` could not be told from a word: URLs hide it)."""
    if value and len(value) >= MIN_FREE_LENGTH:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***`` where it is a whole value.

    A secret that was cut short (its first :data:`SECRET_PREFIX_CHARS` characters or
    more, then something else) is replaced as far as it goes.
    """
    secrets = sorted(tuple(_secrets), key=len, reverse=True)  # whole secrets first, longest first; then what is left of cut ones
    for secret in secrets:
        if secret in text:
            text = redact_secret(text, secret)
    for secret in secrets:
        if len(secret) > SECRET_PREFIX_CHARS and secret[:SECRET_PREFIX_CHARS] in text:
            text = _redact_cut(text, secret)
    return text


def _redact_cut(text: str, secret: str) -> str:
    """Replace every run of ``text`` that is a start of ``secret`` at least SECRET_PREFIX_CHARS long."""
    head = secret[:SECRET_PREFIX_CHARS]
    start = text.find(head)
    while start >= 0:
        end = start + SECRET_PREFIX_CHARS
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = text[:start] + REDACTED + text[end:]
        start = text.find(head, start + len(REDACTED))
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
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        renderer = [structlog.processors.ExceptionRenderer(tracebacks), structlog.processors.JSONRenderer()]
    else:
        # Plain tracebacks: rich's would show frame locals and wrap long values across lines.
        renderer = [
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
        ]
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
