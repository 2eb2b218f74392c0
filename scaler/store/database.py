"""The narrow connection interface the store is written against, which each backend implements.

A :class:`Database` hands out transactions, one at a time (calls from several threads
queue on a lock), commits them when the ``with`` block ends without an exception and
rolls them back otherwise. Driver exceptions never escape: they become
:class:`~scaler.store.errors.StoreUnavailable` or :class:`~scaler.store.errors.StoreError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from scaler.store.dialect import Dialect, uuid_text_from_db

#: Above this many ids, a lookup reads the whole table instead of ``IN (...)`` lists.
_WHOLE_TABLE_THRESHOLD = 2000


class Cursor:
    """A driver cursor that takes SQL written with ``?`` markers, whatever the engine."""

    __slots__ = ("_cursor", "_dialect")

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement; return this cursor, to fetch its rows."""
        self._cursor.execute(self._dialect.sql(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters (batched by the driver)."""
        rows = [tuple(row) for row in rows]
        if rows:
            self._cursor.executemany(self._dialect.sql(statement), rows)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Return every remaining row of the last statement."""
        return [tuple(row) for row in self._cursor.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        """Return the next row of the last statement, or ``None``."""
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    @property
    def rowcount(self) -> int:
        """Rows changed by the last ``execute``."""
        return int(self._cursor.rowcount)


class Database(ABC):
    """One open database: its dialect, where it is (for messages), and its transactions."""

    dialect: Dialect
    #: Where the database is, fit for a message: a path, or a URL without its password.
    location: str

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[Cursor]:
        """Return a context manager running one transaction; commit on success, roll back on error.

        ``write=False`` promises the block only reads. Raises
        :class:`~scaler.store.errors.StoreUnavailable` when the database cannot be reached or
        written, :class:`~scaler.store.errors.StoreError` for any other database failure.
        """

    @abstractmethod
    def migration_transaction(self) -> AbstractContextManager[Cursor]:
        """Like :meth:`transaction`, holding the lock that serializes schema migrations
        across every process using this database."""

    def foreign_commits(self, cursor: Cursor) -> int | None:
        """A number that changes whenever another connection commits to this database, read in the
        transaction of ``cursor``; ``None`` when the engine cannot tell (then every read goes to the database)."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Close the connection; later transactions raise ``StoreUnavailable`` (reason ``closed``)."""


def chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """Yield ``items`` in slices of at most ``size`` (``IN (...)`` lists stay within engine limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_for_ids(cursor: Cursor, select: str, ids: list[str]) -> list[tuple[Any, ...]]:
    """Rows of ``select`` (whose first column is ``deployment_id``) for ``ids``, first column as text."""
    wanted = set(ids)
    if len(ids) > _WHOLE_TABLE_THRESHOLD:
        rows = cursor.execute(select).fetchall()
    else:
        rows = []
        for part in chunks(ids):
            marks = ", ".join("?" * len(part))
            rows += cursor.execute(f"{select} WHERE deployment_id IN ({marks})", part).fetchall()
    keyed = [(uuid_text_from_db(row[0]), *row[1:]) for row in rows]
    return [row for row in keyed if row[0] in wanted]
