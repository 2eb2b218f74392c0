"""What the store keeps of whole-table reads between calls, kept true by its own writes.

The daemon reads every deployment's applied state, health track, rule memory and backoff
once per cycle, and changes a few of them. :class:`ReadCache` keeps each such table by
deployment id: a write marks the deployments it touched (inside its transaction, so no
read can come between), and the next read of the table reads those rows again, not the
whole table. A read first asks the database whether another connection has committed
since (:meth:`~scaler.store.database.Database.foreign_commits`): if so, or if the engine
cannot tell (PostgreSQL, where another instance may write after a change of leader),
everything is read again. It is used only inside a transaction of its database, which
serializes the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.store.database import Cursor, Database, rows_for_ids
from scaler.store.dialect import uuid_text_from_db

#: A table's rows of one deployment (their first column its id as text) made into the value the store returns.
Convert = Callable[[list[tuple[Any, ...]]], Any]


@dataclass(slots=True)
class _Table:
    values: dict[str, Any] | None = None
    """Each deployment's value, by its id as text (``None``: not read yet, or read again whole)."""
    dirty: set[str] = field(default_factory=set)
    """Deployments written since the last read."""


class ReadCache:
    """Whole-table reads by deployment id, patched by the store's own writes; see the module docstring."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._tables: dict[str, _Table] = {}
        self._commits: int | None = None

    def touched(self, table: str, keys: Iterable[str]) -> None:
        """Note, inside the writing transaction, that the rows of deployments ``keys`` in ``table`` changed."""
        state = self._tables.get(table)
        if state is not None and state.values is not None:
            state.dirty.update(keys)

    def read(self, cursor: Cursor, table: str, select: str, convert: Convert) -> Mapping[str, Any]:
        """Every deployment's value in ``table`` (rows of ``select``, whose first column is the deployment
        id), by id as text, read in the transaction of ``cursor``. The mapping is the cache's: do not change it."""
        commits = self._db.foreign_commits(cursor)
        if commits is None or commits != self._commits:
            self._tables.clear()
            self._commits = commits
        state = self._tables.setdefault(table, _Table())
        if commits is None or state.values is None:
            state.values = _grouped(cursor.execute(select).fetchall(), convert)
            state.dirty.clear()
            return state.values
        if state.dirty:
            keys = sorted(state.dirty)
            fresh = _grouped(rows_for_ids(cursor, select, keys), convert)
            for key in keys:
                if key in fresh:
                    state.values[key] = fresh[key]
                else:
                    state.values.pop(key, None)
            state.dirty.clear()
        return state.values


def _grouped(rows: Iterable[tuple[Any, ...]], convert: Convert) -> dict[str, Any]:
    by_key: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_key.setdefault(uuid_text_from_db(row[0]), []).append(row)
    return {key: convert(group) for key, group in by_key.items()}
