"""Reading ``SCALER_STATE_URL``: which backend, where, and how to say where without its password.

Accepted forms::

    sqlite:///relative/path.db          relative to the working directory
    sqlite:////absolute/path.db
    sqlite:///:memory:                  a private, throw-away database (tests)
    postgresql://user:pass@host:port/db?sslmode=require    (also postgres://)

PostgreSQL URLs are read by libpq's own parser, so every libpq parameter works
(``sslmode``, ``connect_timeout``, several hosts with ``target_session_attrs``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from scaler.redaction import redact_secrets, redact_url_passwords, url_passwords
from scaler.store.errors import StoreConfigError

VARIABLE = "SCALER_STATE_URL"
_EXPECTED = "expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True, slots=True)
class SqliteLocation:
    """A SQLite file (``path``), or a private in-memory database when ``path`` is ``None``."""

    path: Path | None

    @property
    def display(self) -> str:
        """Where the database is, for messages."""
        return ":memory:" if self.path is None else str(self.path)


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """A PostgreSQL database: libpq connection parameters, and the URL with its password hidden."""

    params: dict[str, Any] = field(repr=False)
    display: str
    secrets: tuple[str, ...] = field(default=(), repr=False)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Return ``text`` with the passwords of its URLs and each of ``secrets`` replaced by ``***`` where
    they are whole values (:mod:`scaler.redaction`): the rest of a driver's message is left as it was."""
    return redact_secrets(text, secrets)


def parse_state_url(url: str) -> SqliteLocation | PostgresLocation:
    """Return where ``url`` (the value of ``SCALER_STATE_URL``) points.

    Raises :class:`StoreConfigError` naming ``SCALER_STATE_URL`` for an unknown scheme,
    a missing path, or a URL libpq cannot read; the message shows the URL redacted.
    """
    shown = redact_url_passwords(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreConfigError(f"{VARIABLE}: {shown!r} is not a URL; {_EXPECTED}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _sqlite_location(rest, shown)
    if scheme in ("postgresql", "postgres"):
        return _postgres_location(url, shown)
    raise StoreConfigError(f"{VARIABLE}: unsupported scheme {scheme!r} in {shown!r}; {_EXPECTED}")


def _sqlite_location(rest: str, shown: str) -> SqliteLocation:
    host, slash, path = rest.partition("/")
    if host or not slash:
        raise StoreConfigError(
            f"{VARIABLE}: {shown!r} names a host; a SQLite URL has three slashes before a relative "
            "path (sqlite:///state.db) and four before an absolute one (sqlite:////var/lib/scaler/state.db)"
        )
    path, _, query = path.partition("?")
    if query:
        raise StoreConfigError(f"{VARIABLE}: {shown!r}: SQLite URLs take no parameters")
    if not path:
        raise StoreConfigError(f"{VARIABLE}: {shown!r} has no file path; {_EXPECTED}")
    if path == ":memory:":
        return SqliteLocation(path=None)
    return SqliteLocation(path=Path(path).absolute())


def _postgres_location(url: str, shown: str) -> PostgresLocation:
    secrets = tuple(url_passwords(url))
    try:
        params: dict[str, Any] = conninfo_to_dict(url)
    except Exception as exc:  # libpq's parser raises ProgrammingError, and may quote the URL
        raise StoreConfigError(f"{VARIABLE}: cannot read {shown!r}: {scrub(str(exc).strip(), secrets)}") from None
    password = params.get("password")
    if password:
        secrets = (*secrets, str(password))
    for name in ("port", "connect_timeout"):
        for part in str(params.get(name, "")).split(","):
            if part and not part.isdigit():
                raise StoreConfigError(f"{VARIABLE}: {shown!r}: {name} must be a number, got {part!r}")
    return PostgresLocation(params=params, display=shown, secrets=secrets)
