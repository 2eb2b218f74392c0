"""The :class:`Store`: the daemon's memory, the same on SQLite and PostgreSQL.

The platform is the source of truth for status and health; the store remembers what
the platform does not report or what the scaler must not forget across a restart:
what it applied, every action it took (an audit log written ahead of each call), the
health it tracks and since when, first sightings, people's exceptions (suspensions and
overrides), backoffs, what health rules remember and the notices sent. Calls are synchronous and thread-safe (the daemon runs them
through ``asyncio.to_thread``); each commits before it returns, and the ``*s`` batch
methods do a whole cycle's worth of work in one transaction.
"""

from __future__ import annotations

from types import TracebackType
from typing import Literal

from scaler.store.applied import AppliedTables
from scaler.store.audit import AuditLog
from scaler.store.exceptions import ExceptionTables, new_exception_id
from scaler.store.health_tables import HealthTables
from scaler.store.measured_savings import SavingsTables
from scaler.store.notifications import NotificationTables
from scaler.store.schema import current_version
from scaler.store.sightings import SightingTables

__all__ = ["Store", "new_exception_id"]


class Store(
    AppliedTables,
    SightingTables,
    HealthTables,
    SavingsTables,
    NotificationTables,
    ExceptionTables,
    AuditLog,
):
    """The daemon's memory on one database. Use :func:`scaler.store.open_store` to get one.

    Every method may raise :class:`~scaler.store.errors.StoreUnavailable` (the database
    cannot be reached or written: nothing was recorded) or
    :class:`~scaler.store.errors.StoreError`; wrong arguments (a naive datetime, a bad
    id) raise ``ValueError`` before the database is touched.

    The write-ahead protocol of an action::

        action_id = store.begin_action(intent)      # raises: do not send the call
        answer = <send the call>
        store.finish_action(action_id, result="success", finished_at=now,
                            request_id=..., applied=AppliedState(...))
        # only now log/count the action as applied; if finish_action raised, it is not

    After a crash, :meth:`pending_actions` lists intents whose call may or may not have
    reached the platform: compare with what the platform reports, then finish each one
    (``success`` with its ``applied`` state, or ``error``).

    The tables are grouped by what they hold, one module each (:mod:`scaler.store.applied`,
    :mod:`~scaler.store.audit`, :mod:`~scaler.store.exceptions`, :mod:`~scaler.store.health_tables`,
    :mod:`~scaler.store.measured_savings`, :mod:`~scaler.store.notifications`,
    :mod:`~scaler.store.sightings`); whole-table reads are kept between calls by
    :mod:`~scaler.store.read_cache`.
    """

    # --- The store itself -------------------------------------------------

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """Which engine holds the state."""
        return self._db.dialect.name

    def schema_version(self) -> int:
        """Return the database's schema version."""
        return current_version(self._db)

    def ping(self) -> None:
        """Return when the database answers a query; raise ``StoreUnavailable`` otherwise."""
        with self._db.transaction(write=False) as cursor:
            cursor.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the store; later calls raise ``StoreUnavailable`` with reason ``closed``."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

