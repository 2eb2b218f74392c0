"""First sightings of deployments, forgetting a deployment, and the store's process-wide facts (``meta``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from scaler.store.dialect import instant_from_db, instant_to_db, json_from_db, uuid_from_db
from scaler.store.records import SeenDeployment, check_json
from scaler.store.tables import Tables, second_column, uid

#: The ``meta`` key of the instant of the store's first inventory (:meth:`Store.first_inventory_at`).
FIRST_INVENTORY_KEY = "first_inventory_at"
_SELECT_SEEN = "SELECT deployment_id, name, first_seen FROM deployments"


class SightingTables(Tables):
    """Deployments seen, their names and first sightings; process-wide facts."""

    def mark_seen(self, deployments: Iterable[tuple[UUID, str]], now: datetime) -> dict[UUID, datetime]:
        """Note that ``deployments`` (id, name) are listed at ``now``; return each one's first sighting.

        A deployment never seen before gets ``now`` as its first sighting; a known one
        keeps its own and has its name updated if it changed. The first call on a store
        also records ``now`` as its first inventory (:meth:`first_inventory_at`), even for
        an empty list. One transaction. Safe when two processes list the same new
        deployment at once: both return the first sighting that was stored.
        """
        stamp = instant_to_db(now, "now")
        names = {uid(deployment_id): name for deployment_id, name in deployments}
        with self._db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (FIRST_INVENTORY_KEY, check_json(stamp, "first inventory")),
            )
            if not names:
                return {}
            known = self._cache.read(cursor, "deployments", _SELECT_SEEN, _one_seen)
            new = sorted(key for key in names if key not in known)
            renamed = sorted(
                ((name, key) for key, name in names.items() if key in known and known[key].name != name),
                key=second_column,
            )
            self._cache.touched("deployments", [*new, *(key for _, key in renamed)])
            cursor.executemany(
                "INSERT INTO deployments (deployment_id, name, first_seen) VALUES (?, ?, ?) "
                "ON CONFLICT (deployment_id) DO NOTHING",
                [(key, names[key], stamp) for key in new],
            )
            cursor.executemany("UPDATE deployments SET name = ? WHERE deployment_id = ?", renamed)
            if new:  # read back: another process may have stored its own first sighting meanwhile
                known = self._cache.read(cursor, "deployments", _SELECT_SEEN, _one_seen)
            return {known[key].deployment_id: known[key].first_seen for key in names}

    def first_inventory_at(self) -> datetime | None:
        """When the store recorded its first inventory (``None``: never). A deployment first seen
        later appeared while the scaler was watching: it is *new* (see the grace period)."""
        value = self.get_meta(FIRST_INVENTORY_KEY)
        return instant_from_db(value) if isinstance(value, str) else None

    def seen_deployments(self) -> dict[UUID, SeenDeployment]:
        """Return every deployment ever seen, with its last known name and first sighting."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT deployment_id, name, first_seen FROM deployments").fetchall()
        return {seen.deployment_id: seen for seen in map(_seen, rows)}

    def find_deployments(self, name_or_id: str) -> list[SeenDeployment]:
        """Return the seen deployments whose id or name is ``name_or_id`` (names need not be unique)."""
        try:
            key: str | None = uid(name_or_id.strip())
        except ValueError:
            key = None
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                "SELECT deployment_id, name, first_seen FROM deployments WHERE name = ?", (name_or_id,)
            ).fetchall()
            if key is not None:
                rows += cursor.execute(
                    "SELECT deployment_id, name, first_seen FROM deployments WHERE deployment_id = ?", (key,)
                ).fetchall()
        found = {seen.deployment_id: seen for seen in map(_seen, rows)}
        return sorted(found.values(), key=lambda seen: (seen.name, str(seen.deployment_id)))

    def forget(self, deployment_id: UUID) -> None:
        """Forget a deployment the platform no longer has (404): its applied state, health and its
        history, backoff, rule memory and start-up times. The audit log, its first sighting, its measured
        savings and any suspension stay."""
        key = (uid(deployment_id),)
        with self._db.transaction() as cursor:
            for cached in ("applied_state", "health", "backoffs", "rule_memory"):
                self._cache.touched(cached, key)
            for table in ("applied_state", "health", "health_history", "backoffs", "rule_memory", "startups"):
                cursor.execute(f"DELETE FROM {table} WHERE deployment_id = ?", key)

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return the JSON value stored under ``key``, or ``default``."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json_from_db(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store the JSON-serializable ``value`` under ``key`` (``None`` deletes it)."""
        with self._db.transaction() as cursor:
            if value is None:
                cursor.execute("DELETE FROM meta WHERE key = ?", (key,))
                return
            cursor.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, check_json(value, f"meta value {key!r}")),
            )


def _one_seen(rows: list[tuple[Any, ...]]) -> SeenDeployment:
    return _seen(rows[0])


def _seen(row: tuple[Any, ...]) -> SeenDeployment:
    return SeenDeployment(deployment_id=uuid_from_db(row[0]), name=row[1], first_seen=instant_from_db(row[2]))

