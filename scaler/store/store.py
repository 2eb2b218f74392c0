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

import dataclasses
import functools
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Literal
from uuid import UUID

from scaler.store.database import Cursor, Database, chunks
from scaler.store.dialect import (
    instant_from_db,
    instant_to_db,
    json_from_db,
    optional_instant_from_db,
    uuid_from_db,
    uuid_text_from_db,
)
from scaler.store.errors import ActionNotPending
from scaler.store.records import (
    ActionIntent,
    ActionOutcome,
    ActionRecord,
    ActionResult,
    AppliedState,
    Backoff,
    MAX_EXCEPTION_LENGTH,
    ExceptionRecord,
    HealthChange,
    HealthTrack,
    Saved,
    SeenDeployment,
    Suspension,
    check_json,
    utc,
)
from scaler.store.schema import current_version

#: The ``meta`` key of the instant of the store's first inventory (:meth:`Store.first_inventory_at`).
FIRST_INVENTORY_KEY = "first_inventory_at"

#: A deployment's health history keeps the changes still in force within this long before its latest change...
HEALTH_HISTORY_DAYS = timedelta(days=7)
#: ...and at most this many of them (whichever keeps fewer).
HEALTH_HISTORY_CHANGES = 200

#: Measured savings are kept for this many UTC days (today and the 34 before it).
SAVINGS_DAYS = 35

#: Above this many ids, a lookup reads the whole table instead of ``IN (...)`` lists.
_WHOLE_TABLE_THRESHOLD = 2000

_ACTION_COLUMNS = (
    "id, deployment_id, deployment_name, action, parameters, reason, policy, rule, result, dry_run, "
    "started_at, finished_at, platform_message, request_id, error_reason"
)
_INSERT_ACTION = (
    "INSERT INTO actions (deployment_id, deployment_name, action, parameters, reason, policy, rule, "
    "result, dry_run, started_at, finished_at, platform_message, request_id, error_reason) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
# A state decided at an earlier instant than the one on record never replaces it (a late
# writer, such as a former leader resuming after a pause, cannot undo a newer decision).
_UPSERT_APPLIED = (
    "INSERT INTO applied_state (deployment_id, kind, min_replicas, max_replicas, policy, rule, source, "
    "applied_at, action_id, decided_at, remaining) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (deployment_id) DO UPDATE SET kind = excluded.kind, min_replicas = excluded.min_replicas, "
    "max_replicas = excluded.max_replicas, policy = excluded.policy, rule = excluded.rule, "
    "source = excluded.source, applied_at = excluded.applied_at, action_id = excluded.action_id, "
    "decided_at = excluded.decided_at, remaining = excluded.remaining "
    "WHERE applied_state.decided_at IS NULL OR excluded.decided_at IS NULL "
    "OR applied_state.decided_at <= excluded.decided_at"
)
# An action whose outcome is unknown forgets the applied state, unless a later decision wrote it.
_FORGET_APPLIED_OF_ACTION = (
    "DELETE FROM applied_state WHERE deployment_id = ? AND (decided_at IS NULL OR decided_at <= ?)"
)
_APPLIED_COLUMNS = (
    "deployment_id, kind, min_replicas, max_replicas, policy, rule, source, applied_at, action_id, decided_at, remaining"
)
_EXCEPTION_COLUMNS = (
    "id, kind, target_kind, target, target_name, deployment_ids, state, created_at, until, reason, created_by, "
    "ended_at, ended_by"
)
_SELECT_SEEN = "SELECT deployment_id, name, first_seen FROM deployments"

# Batches are written in key order: two processes writing the same rows at once (a
# leader and a standby both polling) then lock them in the same order and cannot
# deadlock each other on PostgreSQL.


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _second(row: tuple[Any, ...]) -> Any:
    return row[1]


def _uid(value: UUID | str, name: str = "deployment_id") -> str:
    """Return a deployment id in its canonical text form; raise ``ValueError`` naming ``name``."""
    try:
        return str(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        raise ValueError(f"{name} must be a UUID, got {value!r}") from None


class Store:
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
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- The store itself -------------------------------------------------

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """Which engine holds the state."""
        return self._db.dialect.name

    @property
    def location(self) -> str:
        """Where the state is: a file path, or the URL with its password hidden."""
        return self._db.location

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

    # --- Applied state ----------------------------------------------------

    def get_applied(self, deployment_id: UUID) -> AppliedState | None:
        """Return what the scaler last applied to ``deployment_id``, or ``None`` if nothing yet."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute(
                f"SELECT {_APPLIED_COLUMNS} FROM applied_state WHERE deployment_id = ?", (_uid(deployment_id),)
            ).fetchone()
        return None if row is None else _applied(row)[1]

    def all_applied(self) -> dict[UUID, AppliedState]:
        """Return the applied state of every deployment that has one."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(f"SELECT {_APPLIED_COLUMNS} FROM applied_state").fetchall()
        return dict(_applied(row) for row in rows)

    def set_applied(self, deployment_id: UUID, state: AppliedState) -> None:
        """Record ``state`` as applied to ``deployment_id`` outside an action (prefer
        :meth:`finish_action`'s ``applied``, which links it to its audit record)."""
        row = _applied_row(_uid(deployment_id), state, state.action_id)
        with self._db.transaction() as cursor:
            cursor.execute(_UPSERT_APPLIED, row)

    # --- First sightings --------------------------------------------------

    def mark_seen(self, deployments: Iterable[tuple[UUID, str]], now: datetime) -> dict[UUID, datetime]:
        """Note that ``deployments`` (id, name) are listed at ``now``; return each one's first sighting.

        A deployment never seen before gets ``now`` as its first sighting; a known one
        keeps its own and has its name updated if it changed. The first call on a store
        also records ``now`` as its first inventory (:meth:`first_inventory_at`), even for
        an empty list. One transaction. Safe when two processes list the same new
        deployment at once: both return the first sighting that was stored.
        """
        stamp = instant_to_db(now, "now")
        names = {_uid(deployment_id): name for deployment_id, name in deployments}
        with self._db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (FIRST_INVENTORY_KEY, check_json(stamp, "first inventory")),
            )
            if not names:
                return {}
            known = {row[0]: row for row in self._rows_for_ids(cursor, _SELECT_SEEN, list(names))}
            new = sorted(key for key in names if key not in known)
            cursor.executemany(
                "INSERT INTO deployments (deployment_id, name, first_seen) VALUES (?, ?, ?) "
                "ON CONFLICT (deployment_id) DO NOTHING",
                [(key, names[key], stamp) for key in new],
            )
            cursor.executemany(
                "UPDATE deployments SET name = ? WHERE deployment_id = ?",
                sorted(
                    ((name, key) for key, name in names.items() if key in known and known[key][1] != name), key=_second
                ),
            )
            if new:  # read back: another process may have stored its own first sighting meanwhile
                known.update((row[0], row) for row in self._rows_for_ids(cursor, _SELECT_SEEN, new))
        return {uuid_from_db(key): instant_from_db(known[key][2]) for key in names}

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
            key: str | None = _uid(name_or_id.strip())
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
        key = (_uid(deployment_id),)
        with self._db.transaction() as cursor:
            for table in ("applied_state", "health", "health_history", "backoffs", "rule_memory", "startups"):
                cursor.execute(f"DELETE FROM {table} WHERE deployment_id = ?", key)

    # --- Health tracking --------------------------------------------------

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
            (_uid(deployment_id), str(value), stamp(observed_at), stamp(observed_at))
            for deployment_id, value, observed_at in observations
        ]
        if not rows:
            return {}
        rows.sort(key=_first)  # stable: observations of one deployment keep their order
        with self._db.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO health (deployment_id, value, since, last_observed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id) DO UPDATE SET "
                "since = CASE WHEN health.value = excluded.value THEN health.since ELSE excluded.since END, "
                "value = excluded.value, last_observed = excluded.last_observed "
                "WHERE excluded.last_observed >= health.last_observed",
                rows,
            )
            tracks = self._rows_for_ids(
                cursor, "SELECT deployment_id, value, since, last_observed FROM health", list({r[0] for r in rows})
            )
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
                (_uid(deployment_id), HEALTH_HISTORY_CHANGES),
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

    # --- Measured savings ---------------------------------------------------

    def add_savings(self, amounts: Mapping[tuple[UUID, date], Saved]) -> None:
        """Add measured savings by (deployment, UTC day) to what each day already holds, and drop the days
        more than :data:`SAVINGS_DAYS` before the newest one added. One transaction."""
        rows = [
            (_uid(deployment_id), day.isoformat(), float(saved.gpu_seconds), float(saved.dollars))
            for (deployment_id, day), saved in sorted(amounts.items(), key=lambda item: (str(item[0][0]), item[0][1]))
        ]
        if not rows:
            return
        newest = max(day for _, day in amounts)
        with self._db.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO savings (deployment_id, day, gpu_seconds, dollars) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id, day) DO UPDATE SET "
                "gpu_seconds = savings.gpu_seconds + excluded.gpu_seconds, dollars = savings.dollars + excluded.dollars",
                rows,
            )
            cutoff = newest - timedelta(days=SAVINGS_DAYS - 1)
            cursor.execute("DELETE FROM savings WHERE day < ?", (cutoff.isoformat(),))

    def savings_since(self, first_day: date) -> dict[UUID, Saved]:
        """Return each deployment's measured saving from the UTC day ``first_day`` on (those that saved
        nothing are absent)."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                "SELECT deployment_id, SUM(gpu_seconds), SUM(dollars) FROM savings WHERE day >= ? "
                "GROUP BY deployment_id",
                (first_day.isoformat(),),
            ).fetchall()
        return {uuid_from_db(key): Saved(float(seconds), float(dollars)) for key, seconds, dollars in rows}

    def health_tracks(self) -> dict[UUID, HealthTrack]:
        """Return the health track of every deployment that has one."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT deployment_id, value, since, last_observed FROM health").fetchall()
        return _health_tracks(rows)

    # --- Start-up times ----------------------------------------------------

    def record_startup(self, deployment_id: UUID, observed_at: datetime, seconds: float, *, keep: int) -> list[float]:
        """Record that ``deployment_id`` took ``seconds`` to start up, observed at ``observed_at``; keep its
        ``keep`` newest start-ups; return them, oldest first. One transaction."""
        key = _uid(deployment_id)
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

    # --- Notices (webhooks) ---------------------------------------------------

    def claim_notification(self, key: str, event: str, at: datetime) -> bool:
        """Note that the notice ``key`` (one transition, one exception's creation...) is being sent;
        return whether it was new (false: it was claimed before, by this or another process)."""
        with self._db.transaction() as cursor:
            if cursor.execute("SELECT 1 FROM notifications WHERE key = ?", (key,)).fetchone() is not None:
                return False
            cursor.execute(
                "INSERT INTO notifications (key, event, noted_at) VALUES (?, ?, ?)",
                (key, event, instant_to_db(at, "at")),
            )
        return True

    def switch_notification(self, key: str, event: str, at: datetime) -> tuple[bool, str | None]:
        """Record ``event`` as the state of the condition ``key`` (the wallet, the token) last noted;
        return whether it changed, and the event it replaces (``None`` the first time)."""
        with self._db.transaction() as cursor:
            row = cursor.execute("SELECT event FROM notifications WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] == event:
                return False, event
            cursor.execute(
                "INSERT INTO notifications (key, event, noted_at) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET event = excluded.event, noted_at = excluded.noted_at",
                (key, event, instant_to_db(at, "at")),
            )
        return True, str(row[0]) if row is not None else None

    def prune_notifications(self, before: datetime, keep: Iterable[str] = ()) -> int:
        """Forget the one-time notices noted before ``before`` except the condition keys ``keep``;
        return how many were forgotten."""
        kept = list(keep)
        marks = ", ".join("?" for _ in kept)
        condition = f" AND key NOT IN ({marks})" if kept else ""
        with self._db.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM notifications WHERE noted_at < ?{condition}", (instant_to_db(before, "before"), *kept)
            )
            return max(cursor.rowcount, 0)

    # --- Health-rule memory -----------------------------------------------

    def rule_memory(self, deployment_id: UUID) -> dict[tuple[str, str], Any]:
        """Return what health rules remember about ``deployment_id``, by (policy, rule)."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                "SELECT policy, rule, memory FROM rule_memory WHERE deployment_id = ?", (_uid(deployment_id),)
            ).fetchall()
        return {(policy, rule): json_from_db(memory) for policy, rule, memory in rows}

    def all_rule_memory(self) -> dict[UUID, dict[tuple[str, str], Any]]:
        """Return the rule memory of every deployment, by deployment then (policy, rule)."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT deployment_id, policy, rule, memory FROM rule_memory").fetchall()
        memory: dict[UUID, dict[tuple[str, str], Any]] = {}
        for deployment_id, policy, rule, value in rows:
            memory.setdefault(uuid_from_db(deployment_id), {})[(policy, rule)] = json_from_db(value)
        return memory

    def put_rule_memory(self, items: Iterable[tuple[UUID, str, str, Any]]) -> None:
        """Store (deployment id, policy, rule, memory) entries; a memory of ``None`` deletes the entry.

        A memory is any JSON-serializable value (instants as ISO text); it replaces the
        previous one whole. One transaction. Raises ``ValueError`` for a value that is
        not JSON-serializable.
        """
        upserts: list[tuple[str, str, str, str]] = []
        deletes: list[tuple[str, str, str]] = []
        for deployment_id, policy, rule, memory in items:
            key = (_uid(deployment_id), str(policy), str(rule))
            if memory is None:
                deletes.append(key)
            else:
                upserts.append((*key, check_json(memory, f"memory of rule {policy}/{rule}")))
        deletes.sort()
        upserts.sort()
        with self._db.transaction() as cursor:
            cursor.executemany("DELETE FROM rule_memory WHERE deployment_id = ? AND policy = ? AND rule = ?", deletes)
            cursor.executemany(
                "INSERT INTO rule_memory (deployment_id, policy, rule, memory) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id, policy, rule) DO UPDATE SET memory = excluded.memory",
                upserts,
            )

    # --- Exceptions: suspensions and overrides ------------------------------

    def create_exception(self, exception: ExceptionRecord, names: Mapping[UUID, str] | None = None) -> ExceptionRecord:
        """Record ``exception`` (its ``ended_*`` must be empty) and, in the same transaction, one
        audit record per deployment it names (action ``suspend`` or ``override``, named from
        ``names``, else as last seen). Returns it as stored. Raises ``ValueError`` for an ended one, one
        longer than :data:`MAX_EXCEPTION_LENGTH` or a used id."""
        if exception.ended_at is not None:
            raise ValueError("a new exception cannot have ended")
        if exception.until - exception.created_at > MAX_EXCEPTION_LENGTH:
            raise ValueError("an exception lasts at most 30 days")
        with self._db.transaction() as cursor:
            if cursor.execute("SELECT 1 FROM exceptions WHERE id = ?", (exception.id,)).fetchone() is not None:
                raise ValueError(f"exception id {exception.id!r} is taken")
            cursor.execute(
                f"INSERT INTO exceptions ({_EXCEPTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                _exception_row(exception),
            )
            known = {**self._names(cursor, exception.deployment_ids), **(names or {})}
            self._audit_exception(cursor, exception, exception.kind, exception.created_at, known)
        return exception

    def end_exception(self, exception_id: str, ended_at: datetime, ended_by: str) -> ExceptionRecord | None:
        """End exception ``exception_id`` at ``ended_at`` (audited as ``resume`` for each deployment it
        names); return it as it is now, ``None`` when there is no such exception. One that had already
        ended (by a person or by time) is returned unchanged."""
        stamp = instant_to_db(ended_at, "ended_at")
        with self._db.transaction() as cursor:
            row = cursor.execute(
                f"SELECT {_EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?", (str(exception_id),)
            ).fetchone()
            if row is None:
                return None
            found = _exception(row)
            if not found.active(ended_at):
                return found
            cursor.execute(
                "UPDATE exceptions SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL",
                (stamp, ended_by, found.id),
            )
            ended = dataclasses.replace(found, ended_at=utc(ended_at, "ended_at"), ended_by=ended_by)
            self._audit_exception(cursor, ended, "resume", ended_at, self._names(cursor, ended.deployment_ids))
        return ended

    def get_exception(self, exception_id: str) -> ExceptionRecord | None:
        """Return exception ``exception_id``, or ``None`` if there is none."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute(
                f"SELECT {_EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?", (str(exception_id),)
            ).fetchone()
        return None if row is None else _exception(row)

    def active_exceptions(self, now: datetime) -> list[ExceptionRecord]:
        """Return the exceptions in force at ``now`` (not ended, ``until`` after ``now``), oldest first."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                f"SELECT {_EXCEPTION_COLUMNS} FROM exceptions WHERE ended_at IS NULL AND until > ? "
                "ORDER BY created_at, id",
                (instant_to_db(now, "now"),),
            ).fetchall()
        return [_exception(row) for row in rows]

    def all_exceptions(self) -> list[ExceptionRecord]:
        """Return every exception ever recorded, ended ones included, oldest first."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(f"SELECT {_EXCEPTION_COLUMNS} FROM exceptions ORDER BY created_at, id").fetchall()
        return [_exception(row) for row in rows]

    def exceptions_revision(self) -> tuple[int, int]:
        """Return (exceptions recorded, exceptions ended by a person): it changes with every creation
        and every ending (rows are never deleted), so a poll of it notices another process's writes."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute("SELECT COUNT(*), COUNT(ended_at) FROM exceptions").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _audit_exception(
        self, cursor: Cursor, exception: ExceptionRecord, action: str, at: datetime, names: Mapping[UUID, str]
    ) -> None:
        verb = {"suspend": "suspended", "override": f"override {exception.state}", "resume": "ended"}[action]
        who = exception.ended_by if action == "resume" else exception.created_by
        reason = f"exception {exception.id} {verb} until {instant_to_db(exception.until)} by {who}: {exception.reason}"
        parameters = {"exception": exception.id, "kind": exception.kind, "target": exception.target_kind}
        if exception.state is not None:
            parameters["state"] = exception.state
        policy = exception.target if exception.target_kind == "policy" else None
        rows = [
            _intent_row(
                ActionIntent(
                    deployment_id=deployment_id,
                    deployment_name=names.get(deployment_id) or exception.target_name or "",
                    action=action,
                    started_at=at,
                    parameters=parameters,
                    reason=reason,
                    policy=policy,
                ),
                "success",
                ActionOutcome(result="success", finished_at=at),
            )
            for deployment_id in sorted(exception.deployment_ids, key=str)
        ]
        cursor.executemany(_INSERT_ACTION.removesuffix(" RETURNING id"), rows)

    @staticmethod
    def _names(cursor: Cursor, deployment_ids: Iterable[UUID]) -> dict[UUID, str]:
        ids = [_uid(key) for key in deployment_ids]
        return {
            uuid_from_db(row[0]): row[1]
            for row in Store._rows_for_ids(cursor, "SELECT deployment_id, name FROM deployments", ids)
        }

    # --- Suspensions of one deployment (the exceptions of `scaler suspend --state-url`) ---

    def suspend(
        self,
        deployment_id: UUID,
        deployment_name: str,
        until: datetime,
        reason: str,
        created_at: datetime,
        created_by: str,
    ) -> Suspension:
        """Suspend one deployment until ``until``, ending (as ``created_by``) any suspension of that
        deployment alone that is still open. Returns the suspension as stored."""
        key = _uid(deployment_id)
        exception = ExceptionRecord(
            id=new_exception_id(),
            kind="suspend",
            target_kind="deployment",
            target=key,
            target_name=deployment_name,
            deployment_ids=(UUID(key),),
            created_at=created_at,
            until=until,
            reason=reason,
            created_by=created_by,
        )
        for open_one in self._open_suspensions_of(key):
            self.end_exception(open_one.id, created_at, created_by)
        self.create_exception(exception, {UUID(key): deployment_name})
        return _suspension(exception)

    def resume(self, deployment_id: UUID, now: datetime | None = None, by: str = "unknown") -> bool:
        """End the open suspensions of ``deployment_id`` alone at ``now`` (default: the wall clock) as
        ``by``; return whether it had one. One that ran out by time is closed at its ``until``."""
        now = datetime.now(UTC) if now is None else utc(now, "now")
        found = self._open_suspensions_of(_uid(deployment_id))
        for exception in found:
            if exception.active(now):
                self.end_exception(exception.id, now, by)
                continue
            with self._db.transaction() as cursor:
                cursor.execute(
                    "UPDATE exceptions SET ended_at = until, ended_by = ? WHERE id = ? AND ended_at IS NULL",
                    (by, exception.id),
                )
        return bool(found)

    def active_suspensions(self, now: datetime) -> dict[UUID, Suspension]:
        """Return the suspensions of one deployment still in force at ``now``, by deployment."""
        found = [e for e in self.active_exceptions(now) if e.kind == "suspend" and e.target_kind == "deployment"]
        return {UUID(str(e.target)): _suspension(e) for e in found}

    def all_suspensions(self) -> dict[UUID, Suspension]:
        """Return every open suspension of one deployment (not ended by a person; expired ones included)."""
        return {UUID(str(e.target)): _suspension(e) for e in self._open_suspensions_of(None)}

    def _open_suspensions_of(self, key: str | None) -> list[ExceptionRecord]:
        query = (
            f"SELECT {_EXCEPTION_COLUMNS} FROM exceptions WHERE ended_at IS NULL AND kind = 'suspend' "
            "AND target_kind = 'deployment'"
        )
        with self._db.transaction(write=False) as cursor:
            if key is None:
                rows = cursor.execute(f"{query} ORDER BY created_at").fetchall()
            else:
                rows = cursor.execute(f"{query} AND target = ? ORDER BY created_at", (key,)).fetchall()
        return [_exception(row) for row in rows]

    # --- Backoffs ---------------------------------------------------------

    def set_backoff(self, deployment_id: UUID, until: datetime, failures: int, reason: str) -> Backoff:
        """Hold off ``deployment_id`` until ``until`` after ``failures`` failures; return the backoff."""
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 0:
            raise ValueError(f"failures must be a count (an int >= 0), got {failures!r}")
        row = (_uid(deployment_id), instant_to_db(until, "until"), failures, reason)
        with self._db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO backoffs (deployment_id, until, failures, reason) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id) DO UPDATE SET until = excluded.until, "
                "failures = excluded.failures, reason = excluded.reason",
                row,
            )
        return _backoff(row)

    def clear_backoff(self, deployment_id: UUID) -> bool:
        """Remove ``deployment_id``'s backoff; return whether it had one."""
        with self._db.transaction() as cursor:
            return cursor.execute("DELETE FROM backoffs WHERE deployment_id = ?", (_uid(deployment_id),)).rowcount > 0

    def backoffs(self) -> dict[UUID, Backoff]:
        """Return every recorded backoff (those whose ``until`` has passed too)."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT deployment_id, until, failures, reason FROM backoffs").fetchall()
        return {b.deployment_id: b for b in map(_backoff, rows)}

    # --- Audit log, written ahead of every action ------------------------

    def begin_action(self, intent: ActionIntent) -> int:
        """Record ``intent`` with result ``pending`` BEFORE its call is sent; return its action id."""
        return self.begin_actions([intent])[0]

    def begin_actions(self, intents: Iterable[ActionIntent]) -> list[int]:
        """Record several intents as ``pending`` in one transaction; return their ids, in order."""
        rows = [_intent_row(intent, "pending", None) for intent in intents]
        with self._db.transaction() as cursor:
            return [_returned_id(cursor.execute(_INSERT_ACTION, row)) for row in rows]

    def finish_action(
        self,
        action_id: int,
        *,
        result: ActionResult,
        finished_at: datetime,
        platform_message: str | None = None,
        request_id: str | None = None,
        error_reason: str | None = None,
        applied: AppliedState | None = None,
        state_unknown: bool = False,
    ) -> None:
        """Record the outcome of pending action ``action_id``, and on success the deployment's
        new applied state (``applied``), in one transaction. ``state_unknown``: the call may
        or may not have taken effect, and the deployment's applied state is forgotten.

        Raises ``ValueError`` for a result that is not final, ``applied`` without success or
        ``state_unknown`` with it, :class:`ActionNotPending` when the action is unknown or
        already finished.
        """
        outcome = ActionOutcome(
            result=result,
            finished_at=finished_at,
            platform_message=platform_message,
            request_id=request_id,
            error_reason=error_reason,
            applied=applied,
            state_unknown=state_unknown,
        )
        self.finish_actions([(action_id, outcome)])

    def finish_actions(self, outcomes: Iterable[tuple[int, ActionOutcome]]) -> None:
        """Record several outcomes in one transaction: all of them, or none when one of the
        actions is unknown or already finished (:class:`ActionNotPending`)."""
        batch = sorted(outcomes, key=_first)
        ids = [action_id for action_id, _ in batch]
        if len(set(ids)) != len(ids):
            raise ValueError("an action can be finished only once per batch")
        if not batch:
            return
        with self._db.transaction() as cursor:
            found: dict[int, tuple[str, str, Any]] = {}
            for part in chunks(ids):
                marks = ", ".join("?" * len(part))
                for action_id, deployment_id, result, started_at in cursor.execute(
                    f"SELECT id, deployment_id, result, started_at FROM actions WHERE id IN ({marks})", part
                ).fetchall():
                    found[int(action_id)] = (uuid_text_from_db(deployment_id), result, started_at)
            not_pending = [i for i in ids if i not in found or found[i][1] != "pending"]
            if not_pending:
                raise ActionNotPending(
                    f"actions {', '.join(map(str, not_pending))} are unknown or already finished in {self.location}"
                )
            cursor.executemany(
                "UPDATE actions SET result = ?, finished_at = ?, platform_message = ?, request_id = ?, "
                "error_reason = ? WHERE id = ? AND result = 'pending'",
                [(*_outcome_values(outcome), action_id) for action_id, outcome in batch],
            )
            applied = [
                _applied_row(found[action_id][0], outcome.applied, action_id)
                for action_id, outcome in batch
                if outcome.applied is not None
            ]
            cursor.executemany(_UPSERT_APPLIED, sorted(applied, key=_first))
            # The action was decided when it was recorded (its started_at): forget only what is not newer.
            unknown = sorted({found[action_id][::2] for action_id, outcome in batch if outcome.state_unknown})
            cursor.executemany(_FORGET_APPLIED_OF_ACTION, unknown)

    def record_actions(self, entries: Iterable[tuple[ActionIntent, ActionOutcome]]) -> list[int]:
        """Record decisions that send no call (``dry_run``, ``deferred``, ``blocked``), intent and
        outcome at once, in one transaction; return their ids. A successful outcome's
        ``applied`` state is recorded too."""
        batch = list(entries)
        with self._db.transaction() as cursor:
            ids = []
            for intent, outcome in batch:
                action_id = _returned_id(cursor.execute(_INSERT_ACTION, _intent_row(intent, outcome.result, outcome)))
                if outcome.applied is not None:
                    cursor.execute(
                        _UPSERT_APPLIED, _applied_row(_uid(intent.deployment_id), outcome.applied, action_id)
                    )
                ids.append(action_id)
            return ids

    def pending_actions(self) -> list[ActionRecord]:
        """Return the actions recorded as intended but never finished (a crash in between), oldest first."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                f"SELECT {_ACTION_COLUMNS} FROM actions WHERE result = 'pending' ORDER BY id"
            ).fetchall()
        return [_action(row) for row in rows]

    def get_action(self, action_id: int) -> ActionRecord | None:
        """Return audit record ``action_id``, or ``None`` if there is none."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute(f"SELECT {_ACTION_COLUMNS} FROM actions WHERE id = ?", (int(action_id),)).fetchone()
        return None if row is None else _action(row)

    def latest_instant(self) -> datetime | None:
        """Return the latest instant the store remembers (a state applied, a health observation, an
        action begun), or ``None`` when it remembers none. Three ``MAX`` queries: no table is read whole."""
        with self._db.transaction(write=False) as cursor:
            columns = (("applied_state", "applied_at"), ("health", "last_observed"), ("actions", "started_at"))
            values = [cursor.execute(f"SELECT MAX({column}) FROM {table}").fetchone()[0] for table, column in columns]
        return max((instant_from_db(value) for value in values if value is not None), default=None)

    def recent_actions(self, limit: int = 50, deployment_id: UUID | None = None) -> list[ActionRecord]:
        """Return the ``limit`` latest audit records (of one deployment if given), newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be an int >= 0, got {limit!r}")
        with self._db.transaction(write=False) as cursor:
            if deployment_id is None:
                rows = cursor.execute(f"SELECT {_ACTION_COLUMNS} FROM actions ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = cursor.execute(
                    f"SELECT {_ACTION_COLUMNS} FROM actions WHERE deployment_id = ? ORDER BY id DESC LIMIT ?",
                    (_uid(deployment_id), limit),
                )
            return [_action(row) for row in rows.fetchall()]

    def latest_actions(self) -> dict[UUID, ActionRecord]:
        """Return the newest audit record of each deployment that has one, read in one query."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                f"SELECT {_ACTION_COLUMNS} FROM actions "
                "WHERE id IN (SELECT MAX(id) FROM actions GROUP BY deployment_id)"
            ).fetchall()
        return {record.deployment_id: record for record in map(_action, rows)}

    def count_actions(
        self, deployment_id: UUID, action: str, since: datetime, results: Sequence[str] = ("success",)
    ) -> int:
        """Return how many ``action`` records of ``deployment_id`` started at or after ``since``
        with one of ``results`` (e.g. restarts in the last day, for ``max_per_day``)."""
        results = list(results)
        if not results:
            return 0
        marks = ", ".join("?" * len(results))
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute(
                "SELECT COUNT(*) FROM actions WHERE deployment_id = ? AND action = ? AND started_at >= ? "
                f"AND result IN ({marks})",
                (_uid(deployment_id), action, instant_to_db(since, "since"), *results),
            ).fetchone()
        return int(row[0]) if row else 0

    def prune_actions(self, before: datetime) -> int:
        """Delete finished audit records that started before ``before``; return how many.

        Pending records are kept whatever their age (crash recovery needs them); an
        applied state whose record is deleted keeps its state and loses the link.
        """
        with self._db.transaction() as cursor:
            return cursor.execute(
                "DELETE FROM actions WHERE started_at < ? AND result <> 'pending'", (instant_to_db(before, "before"),)
            ).rowcount

    # --- Process-wide facts -----------------------------------------------

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

    # --- Helpers ----------------------------------------------------------

    @staticmethod
    def _rows_for_ids(cursor: Cursor, select: str, ids: list[str]) -> list[tuple[Any, ...]]:
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


def _returned_id(cursor: Cursor) -> int:
    row = cursor.fetchone()
    assert row is not None, "INSERT ... RETURNING id returned no row"
    return int(row[0])


def _intent_row(intent: ActionIntent, result: str, outcome: ActionOutcome | None) -> tuple[Any, ...]:
    return (
        _uid(intent.deployment_id),
        intent.deployment_name,
        intent.action,
        check_json(dict(intent.parameters), "parameters"),
        intent.reason,
        intent.policy,
        intent.rule,
        result,
        bool(intent.dry_run),
        instant_to_db(intent.started_at, "started_at"),
        *(_outcome_values(outcome)[1:] if outcome is not None else (None, None, None, None)),
    )


def _outcome_values(outcome: ActionOutcome) -> tuple[Any, ...]:
    return (
        outcome.result,
        instant_to_db(outcome.finished_at, "finished_at"),
        outcome.platform_message,
        outcome.request_id,
        outcome.error_reason,
    )


def _applied_row(key: str, state: AppliedState, action_id: int | None) -> tuple[Any, ...]:
    return (
        key,
        state.kind,
        state.min_replicas,
        state.max_replicas,
        state.policy,
        state.rule,
        state.source,
        instant_to_db(state.applied_at, "applied_at"),
        action_id,
        None if state.decided_at is None else instant_to_db(state.decided_at, "decided_at"),
        " ".join(state.remaining) or None,
    )


def _applied(row: tuple[Any, ...]) -> tuple[UUID, AppliedState]:
    deployment_id, kind, low, high, policy, rule, source, applied_at, action_id, decided_at, remaining = row
    state = AppliedState(
        kind=kind,
        applied_at=instant_from_db(applied_at),
        min_replicas=low,
        max_replicas=high,
        policy=policy,
        rule=rule,
        source=source,
        action_id=None if action_id is None else int(action_id),
        decided_at=optional_instant_from_db(decided_at),
        remaining=tuple(remaining.split()) if remaining else (),
    )
    return uuid_from_db(deployment_id), state


def _action(row: tuple[Any, ...]) -> ActionRecord:
    return ActionRecord(
        id=int(row[0]),
        deployment_id=uuid_from_db(row[1]),
        deployment_name=row[2],
        action=row[3],
        parameters=json_from_db(row[4]),
        reason=row[5],
        policy=row[6],
        rule=row[7],
        result=row[8],
        dry_run=bool(row[9]),
        started_at=instant_from_db(row[10]),
        finished_at=optional_instant_from_db(row[11]),
        platform_message=row[12],
        request_id=row[13],
        error_reason=row[14],
    )


def _health_tracks(rows: Iterable[tuple[Any, ...]]) -> dict[UUID, HealthTrack]:
    """The tracks of ``health`` rows by deployment; each stored instant is read once (most rows share
    the instant of the poll that observed them)."""
    instant = functools.cache(instant_from_db)
    return {
        uuid_from_db(deployment_id): HealthTrack(value=value, since=instant(since), last_observed=instant(last_observed))
        for deployment_id, value, since, last_observed in rows
    }


def _seen(row: tuple[Any, ...]) -> SeenDeployment:
    return SeenDeployment(deployment_id=uuid_from_db(row[0]), name=row[1], first_seen=instant_from_db(row[2]))


def _suspension(exception: ExceptionRecord) -> Suspension:
    return Suspension(
        deployment_id=UUID(str(exception.target)),
        deployment_name=exception.target_name or "",
        until=exception.until,
        reason=exception.reason,
        created_at=exception.created_at,
        created_by=exception.created_by,
    )


def new_exception_id() -> str:
    """A new exception id: 12 random hex digits (``3f9c2a7b10de``), short enough to type."""
    return secrets.token_hex(6)


def _exception_row(exception: ExceptionRecord) -> tuple[Any, ...]:
    return (
        exception.id,
        exception.kind,
        exception.target_kind,
        exception.target,
        exception.target_name,
        " ".join(str(key) for key in exception.deployment_ids),
        exception.state,
        instant_to_db(exception.created_at, "created_at"),
        instant_to_db(exception.until, "until"),
        exception.reason,
        exception.created_by,
    )


def _exception(row: tuple[Any, ...]) -> ExceptionRecord:
    (key, kind, target_kind, target, target_name, ids, state, created_at, until, reason, by, ended_at, ended_by) = row
    return ExceptionRecord(
        id=key,
        kind=kind,
        target_kind=target_kind,
        target=target,
        target_name=target_name,
        deployment_ids=tuple(uuid_from_db(part) for part in (ids or "").split()),
        state=state,
        created_at=instant_from_db(created_at),
        until=instant_from_db(until),
        reason=reason,
        created_by=by,
        ended_at=optional_instant_from_db(ended_at),
        ended_by=ended_by,
    )


def _backoff(row: tuple[Any, ...]) -> Backoff:
    deployment_id, until, failures, reason = row
    return Backoff(
        deployment_id=uuid_from_db(deployment_id), until=instant_from_db(until), failures=int(failures), reason=reason
    )
