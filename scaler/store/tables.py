"""What every group of the store's tables builds on: the database, the read cache, and id helpers."""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from scaler.store.database import Cursor, Database, chunks
from scaler.store.dialect import uuid_text_from_db
from scaler.store.read_cache import ReadCache

#: The text of a UUID: a cycle writes the same few thousand ids again and again.
_uuid_text = functools.lru_cache(maxsize=1 << 16)(str)

#: Above this many ids, a lookup reads the whole table instead of ``IN (...)`` lists.
_WHOLE_TABLE_THRESHOLD = 2000

# Batches are written in key order: two processes writing the same rows at once (a
# leader and a standby both polling) then lock them in the same order and cannot
# deadlock each other on PostgreSQL.


class Tables:
    """One database and the store's cache of its whole-table reads; the table groups of
    :class:`~scaler.store.Store` are its subclasses."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache = ReadCache(db)

    @property
    def location(self) -> str:
        """Where the state is: a file path, or the URL with its password hidden."""
        return self._db.location


def first_column(row: tuple[Any, ...]) -> Any:
    return row[0]


def second_column(row: tuple[Any, ...]) -> Any:
    return row[1]


def uid(value: UUID | str, name: str = "deployment_id") -> str:
    """Return a deployment id in its canonical text form; raise ``ValueError`` naming ``name``."""
    try:
        return _uuid_text(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        raise ValueError(f"{name} must be a UUID, got {value!r}") from None


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

