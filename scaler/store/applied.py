"""The applied state (what the scaler last applied to each deployment) and the backoffs after failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from scaler.store.dialect import instant_from_db, instant_to_db, optional_instant_from_db, uuid_from_db
from scaler.store.records import AppliedState, Backoff
from scaler.store.tables import Tables, uid

APPLIED_COLUMNS = (
    "deployment_id, kind, min_replicas, max_replicas, policy, rule, source, applied_at, action_id, decided_at, remaining"
)
# A state decided at an earlier instant than the one on record never replaces it (a late
# writer, such as a former leader resuming after a pause, cannot undo a newer decision).
UPSERT_APPLIED = (
    "INSERT INTO applied_state (deployment_id, kind, min_replicas, max_replicas, policy, rule, source, "
    "applied_at, action_id, decided_at, remaining) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (deployment_id) DO UPDATE SET kind = excluded.kind, min_replicas = excluded.min_replicas, "
    "max_replicas = excluded.max_replicas, policy = excluded.policy, rule = excluded.rule, "
    "source = excluded.source, applied_at = excluded.applied_at, action_id = excluded.action_id, "
    "decided_at = excluded.decided_at, remaining = excluded.remaining "
    "WHERE applied_state.decided_at IS NULL OR excluded.decided_at IS NULL "
    "OR applied_state.decided_at <= excluded.decided_at"
)
_SELECT_APPLIED = f"SELECT {APPLIED_COLUMNS} FROM applied_state"
_SELECT_BACKOFFS = "SELECT deployment_id, until, failures, reason FROM backoffs"


class AppliedTables(Tables):
    """What the scaler applied to each deployment, and its backoffs."""

    def get_applied(self, deployment_id: UUID) -> AppliedState | None:
        """Return what the scaler last applied to ``deployment_id``, or ``None`` if nothing yet."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute(f"{_SELECT_APPLIED} WHERE deployment_id = ?", (uid(deployment_id),)).fetchone()
        return None if row is None else applied_from_row(row)[1]

    def all_applied(self) -> dict[UUID, AppliedState]:
        """Return the applied state of every deployment that has one."""
        with self._db.transaction(write=False) as cursor:
            return dict(self._cache.read(cursor, "applied_state", _SELECT_APPLIED, _one_applied).values())

    def set_applied(self, deployment_id: UUID, state: AppliedState) -> None:
        """Record ``state`` as applied to ``deployment_id`` outside an action (prefer
        :meth:`finish_action`'s ``applied``, which links it to its audit record)."""
        row = applied_row(uid(deployment_id), state, state.action_id)
        with self._db.transaction() as cursor:
            self._cache.touched("applied_state", [row[0]])
            cursor.execute(UPSERT_APPLIED, row)

    def set_backoff(self, deployment_id: UUID, until: datetime, failures: int, reason: str) -> Backoff:
        """Hold off ``deployment_id`` until ``until`` after ``failures`` failures; return the backoff."""
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 0:
            raise ValueError(f"failures must be a count (an int >= 0), got {failures!r}")
        row = (uid(deployment_id), instant_to_db(until, "until"), failures, reason)
        with self._db.transaction() as cursor:
            self._cache.touched("backoffs", [row[0]])
            cursor.execute(
                "INSERT INTO backoffs (deployment_id, until, failures, reason) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id) DO UPDATE SET until = excluded.until, "
                "failures = excluded.failures, reason = excluded.reason",
                row,
            )
        return _backoff(row)

    def clear_backoff(self, deployment_id: UUID) -> bool:
        """Remove ``deployment_id``'s backoff; return whether it had one."""
        key = uid(deployment_id)
        with self._db.transaction() as cursor:
            self._cache.touched("backoffs", [key])
            return cursor.execute("DELETE FROM backoffs WHERE deployment_id = ?", (key,)).rowcount > 0

    def backoffs(self) -> dict[UUID, Backoff]:
        """Return every recorded backoff (those whose ``until`` has passed too)."""
        with self._db.transaction(write=False) as cursor:
            found = self._cache.read(cursor, "backoffs", _SELECT_BACKOFFS, _one_backoff)
        return {backoff.deployment_id: backoff for backoff in found.values()}


def applied_row(key: str, state: AppliedState, action_id: int | None) -> tuple[Any, ...]:
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


def applied_from_row(row: tuple[Any, ...]) -> tuple[UUID, AppliedState]:
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


def _one_applied(rows: list[tuple[Any, ...]]) -> tuple[UUID, AppliedState]:
    return applied_from_row(rows[0])


def _one_backoff(rows: list[tuple[Any, ...]]) -> Backoff:
    return _backoff(rows[0])


def _backoff(row: tuple[Any, ...]) -> Backoff:
    deployment_id, until, failures, reason = row
    return Backoff(
        deployment_id=uuid_from_db(deployment_id), until=instant_from_db(until), failures=int(failures), reason=reason
    )
