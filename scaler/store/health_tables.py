"""Health tracks and their history, start-up times, and what health rules remember."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from scaler.store.database import Cursor
from scaler.store.dialect import instant_from_db, instant_to_db, json_from_db, uuid_from_db
from scaler.store.records import HealthChange, HealthTrack, check_json, utc
from scaler.store.database import rows_for_ids
from scaler.store.tables import Tables, first_column, uid

#: A deployment's health history keeps the changes still in force within this long before its latest change...
HEALTH_HISTORY_DAYS = timedelta(days=7)
#: ...and at most this many of them (whichever keeps fewer).
HEALTH_HISTORY_CHANGES = 200
_SELECT_TRACKS = "SELECT deployment_id, value, since, last_observed FROM health"
_SELECT_RULE_MEMORY = "SELECT deployment_id, policy, rule, memory FROM rule_memory"


class HealthTables(Tables):
    """Each deployment's health track and history, start-up times and health rules' memory."""

    def record_health(self, observations: Iterable[tuple[UUID, str, datetime]]) -> dict[UUID, HealthTrack]:
        """Record health observations (id, value, observed at); return each deployment's track.

        ``since`` moves only when the value changes; ``last_observed`` follows the
        newest observation. An observation older than the one already recorded is
        ignored (a slow answer must not overwrite a newer one). A track that changed
        (or began) adds one row to the deployment's health history, which is pruned
        to the changes in force within :data:`HEALTH_HISTORY_DAYS` before it, at most
        :data:`HEALTH_HISTORY_CHANGES`. One transaction.
        """
        stamp = functools.cache(lambda at: instant_to_db(at, "observed_at"))  # a poll shares one instant
        rows = [
            (uid(deployment_id), str(value), stamp(observed_at), stamp(observed_at))
            for deployment_id, value, observed_at in observations
        ]
        if not rows:
            return {}
        rows.sort(key=first_column)  # stable: observations of one deployment keep their order
        with self._db.transaction() as cursor:
            self._cache.touched("health", (row[0] for row in rows))
            cursor.executemany(
                "INSERT INTO health (deployment_id, value, since, last_observed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id) DO UPDATE SET "
                "since = CASE WHEN health.value = excluded.value THEN health.since ELSE excluded.since END, "
                "value = excluded.value, last_observed = excluded.last_observed "
                "WHERE excluded.last_observed >= health.last_observed",
                rows,
            )
            tracks = rows_for_ids(cursor, _SELECT_TRACKS, list({r[0] for r in rows}))
            # A track whose since is its last observation changed (or began) at that observation.
            changes = sorted((key, value, since) for key, value, since, last in tracks if since == last)
            self._add_health_changes(cursor, changes)
        return _health_tracks(tracks)

    @staticmethod
    def _add_health_changes(cursor: Cursor, changes: list[tuple[str, str, Any]]) -> None:
        """Add (deployment id, value, since) rows to the health history and prune those deployments'."""
        cursor.executemany(
            "INSERT INTO health_history (deployment_id, value, since) VALUES (?, ?, ?) "
            "ON CONFLICT (deployment_id, since) DO UPDATE SET value = excluded.value",
            changes,
        )
        cutoff = functools.cache(lambda since: instant_to_db(instant_from_db(since) - HEALTH_HISTORY_DAYS, "cutoff"))
        # Rows before the one in force at the cutoff ended before it.
        cursor.executemany(
            "DELETE FROM health_history WHERE deployment_id = ? AND since < (SELECT MAX(since) FROM health_history "
            "WHERE deployment_id = ? AND since <= ?)",
            [(key, key, cutoff(since)) for key, _, since in changes],
        )
        cursor.executemany(
            "DELETE FROM health_history WHERE deployment_id = ? AND since NOT IN (SELECT since FROM health_history "
            "WHERE deployment_id = ? ORDER BY since DESC LIMIT ?)",
            [(key, key, HEALTH_HISTORY_CHANGES) for key, _, _ in changes],
        )

    def health_history(self, deployment_id: UUID, now: datetime) -> list[HealthChange]:
        """Return the recent changes of ``deployment_id``'s health, newest first: those still in force
        within :data:`HEALTH_HISTORY_DAYS` before ``now``, at most :data:`HEALTH_HISTORY_CHANGES`."""
        cutoff = utc(now, "now") - HEALTH_HISTORY_DAYS
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                "SELECT value, since FROM health_history WHERE deployment_id = ? ORDER BY since DESC LIMIT ?",
                (uid(deployment_id), HEALTH_HISTORY_CHANGES),
            ).fetchall()
        history: list[HealthChange] = []
        until: datetime | None = None
        for value, since in rows:
            if until is not None and until <= cutoff:
                break
            change = HealthChange(value=value, since=instant_from_db(since), until=until)
            history.append(change)
            until = change.since
        return history

    def health_tracks(self) -> dict[UUID, HealthTrack]:
        """Return the health track of every deployment that has one."""
        with self._db.transaction(write=False) as cursor:
            return dict(self._cache.read(cursor, "health", _SELECT_TRACKS, _one_track).values())

    # --- Start-up times ----------------------------------------------------

    def record_startup(self, deployment_id: UUID, observed_at: datetime, seconds: float, *, keep: int) -> list[float]:
        """Record that ``deployment_id`` took ``seconds`` to start up, observed at ``observed_at``; keep its
        ``keep`` newest start-ups; return them, oldest first. One transaction."""
        key = uid(deployment_id)
        with self._db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO startups (deployment_id, observed_at, seconds) VALUES (?, ?, ?) "
                "ON CONFLICT (deployment_id, observed_at) DO UPDATE SET seconds = excluded.seconds",
                (key, instant_to_db(observed_at, "observed_at"), float(seconds)),
            )
            cursor.execute(
                "DELETE FROM startups WHERE deployment_id = ? AND observed_at NOT IN (SELECT observed_at FROM "
                "startups WHERE deployment_id = ? ORDER BY observed_at DESC LIMIT ?)",
                (key, key, keep),
            )
            rows = cursor.execute(
                "SELECT seconds FROM startups WHERE deployment_id = ? ORDER BY observed_at", (key,)
            ).fetchall()
        return [float(row[0]) for row in rows]

    def startups(self) -> dict[UUID, list[float]]:
        """Return every deployment's recorded start-up times in seconds, oldest first."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT deployment_id, seconds FROM startups ORDER BY observed_at").fetchall()
        found: dict[UUID, list[float]] = {}
        for deployment_id, seconds in rows:
            found.setdefault(uuid_from_db(deployment_id), []).append(float(seconds))
        return found

    def rule_memory(self, deployment_id: UUID) -> dict[tuple[str, str], Any]:
        """Return what health rules remember about ``deployment_id``, by (policy, rule)."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                "SELECT policy, rule, memory FROM rule_memory WHERE deployment_id = ?", (uid(deployment_id),)
            ).fetchall()
        return {(policy, rule): json_from_db(memory) for policy, rule, memory in rows}

    def all_rule_memory(self) -> dict[UUID, dict[tuple[str, str], Any]]:
        """Return the rule memory of every deployment, by deployment then (policy, rule)."""
        with self._db.transaction(write=False) as cursor:
            stored = self._cache.read(cursor, "rule_memory", _SELECT_RULE_MEMORY, _memory_texts)
        # Decoded on every read: each caller gets values of its own.
        return {
            deployment_id: {key: json_from_db(text) for key, text in texts.items()}
            for deployment_id, texts in stored.values()
        }

    def put_rule_memory(self, items: Iterable[tuple[UUID, str, str, Any]]) -> None:
        """Store (deployment id, policy, rule, memory) entries; a memory of ``None`` deletes the entry.

        A memory is any JSON-serializable value (instants as ISO text); it replaces the
        previous one whole. One transaction. Raises ``ValueError`` for a value that is
        not JSON-serializable.
        """
        upserts: list[tuple[str, str, str, str]] = []
        deletes: list[tuple[str, str, str]] = []
        for deployment_id, policy, rule, memory in items:
            key = (uid(deployment_id), str(policy), str(rule))
            if memory is None:
                deletes.append(key)
            else:
                upserts.append((*key, check_json(memory, f"memory of rule {policy}/{rule}")))
        deletes.sort()
        upserts.sort()
        with self._db.transaction() as cursor:
            self._cache.touched("rule_memory", (entry[0] for entry in [*deletes, *upserts]))
            cursor.executemany("DELETE FROM rule_memory WHERE deployment_id = ? AND policy = ? AND rule = ?", deletes)
            cursor.executemany(
                "INSERT INTO rule_memory (deployment_id, policy, rule, memory) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id, policy, rule) DO UPDATE SET memory = excluded.memory",
                upserts,
            )


def _health_tracks(rows: Iterable[tuple[Any, ...]]) -> dict[UUID, HealthTrack]:
    """The tracks of ``health`` rows by deployment; each stored instant is read once (most rows share
    the instant of the poll that observed them)."""
    instant = functools.cache(instant_from_db)
    return {
        uuid_from_db(deployment_id): HealthTrack(value=value, since=instant(since), last_observed=instant(last_observed))
        for deployment_id, value, since, last_observed in rows
    }



def _one_track(rows: list[tuple[Any, ...]]) -> tuple[UUID, HealthTrack]:
    deployment_id, value, since, last_observed = rows[0]
    return uuid_from_db(deployment_id), HealthTrack(
        value=value, since=instant_from_db(since), last_observed=instant_from_db(last_observed)
    )


def _memory_texts(rows: list[tuple[Any, ...]]) -> tuple[UUID, dict[tuple[str, str], str]]:
    """A deployment's rule memory as stored: JSON text by (policy, rule)."""
    return uuid_from_db(rows[0][0]), {(policy, rule): memory for _, policy, rule, memory in rows}
