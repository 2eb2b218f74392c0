"""Opening the store from ``SCALER_STATE_URL``: pick the backend, migrate, prove it writable."""

from __future__ import annotations

import structlog

from scaler.logs import register_secret
from scaler.store.database import Database
from scaler.store.postgres import DEFAULT_CONNECT_TIMEOUT_SECONDS, PostgresDatabase
from scaler.store.errors import StoreMissing
from scaler.store.schema import current_version, migrate
from scaler.store.sqlite import DEFAULT_BUSY_TIMEOUT_SECONDS, SqliteDatabase, has_schema
from scaler.store.store import Store
from scaler.store.url import PostgresLocation, SqliteLocation, parse_state_url

log = structlog.get_logger()

_PROBE_KEY = "store.write_probe"


def connect(
    url: str,
    *,
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS,
) -> Database:
    """Return an open connection to the database ``url`` names, without migrating it.

    Registers the URL's password with :func:`scaler.logs.register_secret`, so that no log
    line can show it. Raises :class:`StoreConfigError` for a bad URL and
    :class:`StoreUnavailable` when the database cannot be opened or reached.
    """
    location = parse_state_url(url)
    if isinstance(location, SqliteLocation):
        return SqliteDatabase(location, busy_timeout_seconds=busy_timeout_seconds)
    for secret in location.secrets:
        register_secret(secret)
    return PostgresDatabase(location, connect_timeout_seconds=connect_timeout_seconds)


def open_store(
    url: str,
    *,
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    create: bool = True,
) -> Store:
    """Open the state store at ``url`` (the value of ``SCALER_STATE_URL``), ready to use.

    Connects, applies missing schema migrations, then proves the database writable with
    a write that leaves nothing behind, so that a read-only file or server fails here
    rather than at the first action. ``busy_timeout_seconds`` (SQLite) bounds the wait
    for another process's write lock; ``connect_timeout_seconds`` (PostgreSQL) applies
    unless the URL sets ``connect_timeout``. With ``create=False`` only an existing store
    is opened (a command that writes to the daemon's store must not start a new one that
    the daemon never reads): no SQLite file is created and no empty database set up.

    Raises :class:`StoreConfigError` (bad URL, naming ``SCALER_STATE_URL``),
    :class:`StoreMissing` (``create=False`` and no store there), :class:`StoreUnavailable`
    (cannot open, connect or write: the message says which and where),
    :class:`SchemaTooNew` (written by a newer scaler) or :class:`MigrationFailed`.
    """
    if not create:
        _require_sqlite_store(parse_state_url(url))
    db = connect(url, busy_timeout_seconds=busy_timeout_seconds, connect_timeout_seconds=connect_timeout_seconds)
    try:
        if not create and current_version(db) == 0:
            raise _missing(db.location)
        version = migrate(db)
        with db.transaction() as cursor:
            cursor.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (_PROBE_KEY, "true"))
            cursor.execute("DELETE FROM meta WHERE key = ?", (_PROBE_KEY,))
    except BaseException:
        db.close()
        raise
    log.info("store_opened", backend=db.dialect.name, location=db.location, schema_version=version)
    return Store(db)


def _require_sqlite_store(location: SqliteLocation | PostgresLocation) -> None:
    """Raise :class:`StoreMissing` unless a SQLite ``location`` is a file holding the scaler's schema
    (looked at before connecting, which would create the file or write to it)."""
    if not isinstance(location, SqliteLocation):
        return
    if location.path is None:
        raise _missing(location.display)
    if not location.path.is_file() or has_schema(location.path) is False:
        raise _missing(str(location.path.absolute()))


def _missing(location: str) -> StoreMissing:
    return StoreMissing(
        f"no state store at {location}: the daemon has not created one there; "
        "set SCALER_STATE_URL to the daemon's store",
        location=location,
    )
