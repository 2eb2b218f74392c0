"""What every group of the store's tables builds on: the database, the read cache, and id helpers."""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from scaler.store.database import Database
from scaler.store.read_cache import ReadCache

#: The text of a UUID: a cycle writes the same few thousand ids again and again.
_uuid_text = functools.lru_cache(maxsize=1 << 16)(str)

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
