"""The SQLite backend: one durable connection (WAL, ``synchronous=FULL``), shared by threads under a lock.

Durability: every transaction is committed with a full sync of the write-ahead log
before the call returns, so a SIGKILL or a power cut loses no committed record and
leaves a file that passes ``PRAGMA integrity_check``. Writers take the write lock at
``BEGIN IMMEDIATE`` and wait up to the busy timeout for another process (the CLI
writing a suspension while the daemon runs) instead of failing at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from scaler.store.database import Cursor, Database
from scaler.store.dialect import SQLITE
from scaler.store.errors import StoreError, StoreUnavailable, UnavailableReason
from scaler.store.url import SqliteLocation

log = structlog.get_logger()

#: Seconds a writer waits for another process's write lock before giving up. Writes
#: take milliseconds; 5 s absorbs a slow disk or a checkpoint without stalling a cycle.
DEFAULT_BUSY_TIMEOUT_SECONDS = 5.0
_WAL_RETRY_SECONDS = 0.01


def has_schema(path: Path) -> bool | None:
    """Whether the SQLite file at ``path`` holds the scaler's schema, looked at read-only (nothing is
    written, no journal created); ``None`` when it cannot be read (opening it says why)."""
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        found = conn.execute(SQLITE.table_exists_sql, ("schema_version",)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return found is not None


class SqliteDatabase(Database):
    """A SQLite database file (or a private in-memory database), opened for reading and writing."""

    dialect = SQLITE

    def __init__(self, location: SqliteLocation, *, busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        """Open (creating if needed) the database at ``location``.

        Raises :class:`StoreUnavailable` when its directory is missing, or when the file
        cannot be opened or set up (read-only, not a database, disk full).
        """
        self.location = location.display
        self._path = location.path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if self._path is not None and not self._path.parent.is_dir():
            raise StoreUnavailable(
                f"cannot open the state database {self.location}: directory {self._path.parent} does not exist",
                reason="cannot_open",
                location=self.location,
            )
        target = ":memory:" if self._path is None else str(self._path)
        try:
            conn = sqlite3.connect(target, timeout=busy_timeout_seconds, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
            if self._path is not None:
                _use_wal(conn, self.location, busy_timeout_seconds)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            conn.close()
            raise self._unavailable(exc) from exc
        self._conn = conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """Run one transaction (``BEGIN IMMEDIATE`` for writes); see :meth:`Database.transaction`."""
        with self._lock:
            conn = self._open_connection()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                yield Cursor(conn.cursor(), self.dialect)
                conn.execute("COMMIT")
            except BaseException as exc:
                self._roll_back(conn)
                if isinstance(exc, sqlite3.Error):
                    raise self._unavailable(exc) from exc
                raise

    @contextmanager
    def migration_transaction(self) -> Iterator[Cursor]:
        """A write transaction: ``BEGIN IMMEDIATE`` already excludes every other writer."""
        with self.transaction(write=True) as cursor:
            yield cursor

    def foreign_commits(self, cursor: Cursor) -> int | None:
        """SQLite's ``data_version``: it changes when another connection (another process) commits."""
        row = cursor.execute("PRAGMA data_version").fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _open_connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(
                f"the state store {self.location} is closed", reason="closed", location=self.location
            )
        return self._conn

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                # SQLite has already rolled back after some errors (disk full, I/O).
                log.warning("store_rollback_failed", location=self.location, error=str(exc))

    def _unavailable(self, exc: sqlite3.Error) -> StoreError:
        return classify_sqlite_error(exc, self.location, self._path)


def _use_wal(conn: sqlite3.Connection, location: str, busy_timeout_seconds: float) -> None:
    """Put the database in WAL mode (a persistent setting of the file).

    Switching needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without
    its busy handler, while another connection holds the file (two processes opening a
    new database together): retry within the busy timeout.
    """
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout_seconds
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            break
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)
    if mode != "wal":
        log.warning("store_sqlite_not_wal", location=location, journal_mode=mode)


def _writable(directory: Path) -> bool:
    """Whether this process may create files in ``directory`` (by its effective ids)."""
    effective = os.access in os.supports_effective_ids
    return os.access(directory, os.W_OK | os.X_OK, effective_ids=effective)


def classify_sqlite_error(exc: sqlite3.Error, location: str, path: Path | None = None) -> StoreError:
    """Return the store error for a SQLite failure: :class:`StoreUnavailable` (with its
    reason) for the states of the file and its disk, :class:`StoreError` for the rest."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    detail = str(exc)

    def unavailable(message: str, reason: UnavailableReason) -> StoreUnavailable:
        return StoreUnavailable(message, reason=reason, location=location)

    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return unavailable(
            f"the state database {location} is read-only ({detail}): check the permissions of the file "
            "and of its directory (SQLite writes its -wal and -shm files beside it) and the volume's mount",
            "read_only",
        )
    if name.startswith("SQLITE_FULL"):
        return unavailable(f"the disk holding the state database {location} is full ({detail})", "disk_full")
    if name.startswith("SQLITE_CANTOPEN"):
        directory = path.parent if path is not None else None
        if directory is not None and directory.is_dir() and not _writable(directory):
            return unavailable(
                f"cannot open the state database {location}: directory {directory} is not writable ({detail})",
                "read_only",
            )
        return unavailable(f"cannot open the state database {location} ({detail})", "cannot_open")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return unavailable(f"the state database {location} stayed locked by another process ({detail})", "busy")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return unavailable(f"the state database {location} is corrupt or not a SQLite database ({detail})", "corrupt")
    if name.startswith("SQLITE_IOERR"):
        return unavailable(f"the disk refused a read or write of the state database {location} ({detail})", "io_error")
    return StoreError(f"the state database {location} failed: {detail}")
