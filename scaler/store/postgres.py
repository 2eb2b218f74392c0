"""The PostgreSQL backend (psycopg 3): one connection shared by threads under a lock, re-made when lost.

A connection lost while idle (a failover, a server restart, the server ending idle
sessions) is found dead at the ``BEGIN`` of the next transaction, before anything of it
was sent: it is replaced and that transaction runs on the new one, so a failover costs
no failed call. A connection lost during a transaction fails that transaction with
:class:`StoreUnavailable`; nothing of it is retried behind the caller's back, because a
write whose commit acknowledgement was lost may or may not have happened. The next
transaction connects again. Schema migrations hold a transaction-scoped advisory lock,
so several scaler processes opening one database migrate it once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.string import TextLoader

from scaler.store.database import Cursor, Database
from scaler.store.dialect import POSTGRESQL
from scaler.store.errors import StoreError, StoreUnavailable, UnavailableReason
from scaler.store.url import PostgresLocation, scrub

#: Seconds to wait for a connection, unless the URL says otherwise (``connect_timeout``).
#: libpq waits forever by default; 10 s is far above a healthy server's answer time.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10

#: Advisory lock key held while migrating the schema (a transaction-scoped lock, so it
#: is released at commit or when the connection dies). Keys of the scaler's advisory
#: locks are listed here so that they never collide.
MIGRATION_LOCK_KEY = 0x5CA1E5_0000_0001
#: Reserved for leader election.
LEADER_LOCK_KEY = 0x5CA1E5_0000_0002

APPLICATION_NAME = "simplismart-scaler"


class PostgresDatabase(Database):
    """A PostgreSQL database reached over one autocommit connection with explicit transactions."""

    dialect = POSTGRESQL

    def __init__(
        self, location: PostgresLocation, *, connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS
    ) -> None:
        """Connect to the database at ``location``.

        Raises :class:`StoreUnavailable` (reason ``connection``) when the server cannot be
        reached or refuses the credentials; the message never contains the password.
        """
        self.location = location.display
        self._secrets = location.secrets
        self._params: dict[str, Any] = {
            "connect_timeout": connect_timeout_seconds,
            "application_name": APPLICATION_NAME,
            **location.params,
        }
        self._lock = threading.Lock()
        self._closed = False
        self._conn: psycopg.Connection[Any] | None = None
        self._conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot connect to the PostgreSQL state database {self.location}: {self._scrub(exc)}",
                reason="connection",
                location=self.location,
            ) from None
        # JSON comes back as text, decoded by the store exactly as SQLite's is.
        conn.adapters.register_loader("jsonb", TextLoader)
        conn.adapters.register_loader("json", TextLoader)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """Run one transaction; see :meth:`Database.transaction`."""
        with self._lock, self._transaction() as cursor:
            yield cursor

    @contextmanager
    def migration_transaction(self) -> Iterator[Cursor]:
        """A transaction holding the migration advisory lock until it ends."""
        with self._lock, self._transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))
            yield cursor

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        conn = self._begin()
        try:
            yield Cursor(conn.cursor(), self.dialect)
            conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._end_failed(conn)
            raise self._classify(exc) from None
        except BaseException:
            self._end_failed(conn)
            raise

    def _begin(self) -> psycopg.Connection[Any]:
        """Return the connection with a transaction begun; a connection found dead at BEGIN is replaced once."""
        conn = self._open_connection()
        try:
            conn.execute("BEGIN")
            return conn
        except psycopg.Error as exc:
            if not (conn.broken or conn.closed):
                self._end_failed(conn)
                raise self._classify(exc) from None
        self._drop_connection()
        conn = self._open_connection()
        try:
            conn.execute("BEGIN")
        except psycopg.Error as exc:
            self._end_failed(conn)
            raise self._classify(exc) from None
        return conn

    def _end_failed(self, conn: psycopg.Connection[Any]) -> None:
        """Roll back a failed transaction, or drop the connection when it is lost."""
        if conn.broken or conn.closed:
            self._drop_connection()
            return
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            self._drop_connection()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._closed = True
            self._drop_connection()

    def _open_connection(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreUnavailable(
                f"the state store {self.location} is closed", reason="closed", location=self.location
            )
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop_connection()
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _scrub(self, exc: BaseException) -> str:
        """The driver's message without secrets, on one line (the server adds DETAIL, HINT and CONTEXT lines)."""
        return " ".join(scrub(str(exc), self._secrets).split())

    def _classify(self, exc: psycopg.Error) -> StoreError:
        return classify_postgres_error(exc, self.location, self._scrub(exc))


def classify_postgres_error(exc: psycopg.Error, location: str, detail: str) -> StoreError:
    """Return the store error for a PostgreSQL failure, by SQLSTATE: :class:`StoreUnavailable`
    for a lost connection, a read-only server, a full disk or a shutdown; :class:`StoreError`
    for the rest (``detail`` is the driver's message, already scrubbed of secrets)."""
    state = getattr(exc, "sqlstate", None) or ""

    def unavailable(message: str, reason: UnavailableReason) -> StoreUnavailable:
        return StoreUnavailable(message, reason=reason, location=location)

    if state == "25006":
        return unavailable(
            f"the PostgreSQL state database {location} is read-only (a standby, or "
            f"default_transaction_read_only): {detail}",
            "read_only",
        )
    if state == "53100":
        return unavailable(f"the disk of the PostgreSQL state database {location} is full: {detail}", "disk_full")
    if state.startswith(("08", "57", "53")) or (
        not state and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
    ):
        return unavailable(f"lost the PostgreSQL state database {location}: {detail}", "connection")
    return StoreError(f"the PostgreSQL state database {location} failed: {detail}")
