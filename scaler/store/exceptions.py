"""People's exceptions to the schedule (suspensions and overrides), audited as they begin and end."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from scaler.store.audit import INSERT_ACTION, intent_row
from scaler.store.database import Cursor
from scaler.store.dialect import instant_from_db, instant_to_db, optional_instant_from_db, uuid_from_db
from scaler.store.records import (
    MAX_EXCEPTION_LENGTH,
    ActionIntent,
    ActionOutcome,
    ExceptionRecord,
    Suspension,
    utc,
)
from scaler.store.database import rows_for_ids
from scaler.store.tables import Tables, uid

_EXCEPTION_COLUMNS = (
    "id, kind, target_kind, target, target_name, deployment_ids, state, created_at, until, reason, created_by, "
    "ended_at, ended_by"
)


class ExceptionTables(Tables):
    """Exceptions of every kind, and the suspensions of one deployment of ``scaler suspend``."""

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
            intent_row(
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
        cursor.executemany(INSERT_ACTION.removesuffix(" RETURNING id"), rows)

    @staticmethod
    def _names(cursor: Cursor, deployment_ids: Iterable[UUID]) -> dict[UUID, str]:
        ids = [uid(key) for key in deployment_ids]
        return {
            uuid_from_db(row[0]): row[1]
            for row in rows_for_ids(cursor, "SELECT deployment_id, name FROM deployments", ids)
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
        key = uid(deployment_id)
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
        found = self._open_suspensions_of(uid(deployment_id))
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

