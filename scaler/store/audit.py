"""The audit log: every action recorded before its call is sent, and finished with its outcome."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from scaler.store.applied import UPSERT_APPLIED, applied_row
from scaler.store.database import Cursor, chunks
from scaler.store.dialect import (
    instant_from_db,
    instant_to_db,
    json_from_db,
    optional_instant_from_db,
    uuid_from_db,
    uuid_text_from_db,
)
from scaler.store.errors import ActionNotPending
from scaler.store.records import ActionIntent, ActionOutcome, ActionRecord, ActionResult, AppliedState, check_json
from scaler.store.tables import Tables, first_column, uid

ACTION_COLUMNS = (
    "id, deployment_id, deployment_name, action, parameters, reason, policy, rule, result, dry_run, "
    "started_at, finished_at, platform_message, request_id, error_reason"
)
INSERT_ACTION = (
    "INSERT INTO actions (deployment_id, deployment_name, action, parameters, reason, policy, rule, "
    "result, dry_run, started_at, finished_at, platform_message, request_id, error_reason) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
# An action whose outcome is unknown forgets the applied state, unless a later decision wrote it.
_FORGET_APPLIED_OF_ACTION = (
    "DELETE FROM applied_state WHERE deployment_id = ? AND (decided_at IS NULL OR decided_at <= ?)"
)


class AuditLog(Tables):
    """The audit log, written ahead of every action."""

    def begin_action(self, intent: ActionIntent) -> int:
        """Record ``intent`` with result ``pending`` BEFORE its call is sent; return its action id."""
        return self.begin_actions([intent])[0]

    def begin_actions(self, intents: Iterable[ActionIntent]) -> list[int]:
        """Record several intents as ``pending`` in one transaction; return their ids, in order."""
        rows = [intent_row(intent, "pending", None) for intent in intents]
        with self._db.transaction() as cursor:
            return [_returned_id(cursor.execute(INSERT_ACTION, row)) for row in rows]

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
        batch = sorted(outcomes, key=first_column)
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
                applied_row(found[action_id][0], outcome.applied, action_id)
                for action_id, outcome in batch
                if outcome.applied is not None
            ]
            cursor.executemany(UPSERT_APPLIED, sorted(applied, key=first_column))
            # The action was decided when it was recorded (its started_at): forget only what is not newer.
            unknown = sorted({found[action_id][::2] for action_id, outcome in batch if outcome.state_unknown})
            self._cache.touched("applied_state", [*(row[0] for row in applied), *(row[0] for row in unknown)])
            cursor.executemany(_FORGET_APPLIED_OF_ACTION, unknown)

    def record_actions(self, entries: Iterable[tuple[ActionIntent, ActionOutcome]]) -> list[int]:
        """Record decisions that send no call (``dry_run``, ``deferred``, ``blocked``), intent and
        outcome at once, in one transaction; return their ids. A successful outcome's
        ``applied`` state is recorded too."""
        batch = list(entries)
        with self._db.transaction() as cursor:
            ids = []
            for intent, outcome in batch:
                action_id = _returned_id(cursor.execute(INSERT_ACTION, intent_row(intent, outcome.result, outcome)))
                if outcome.applied is not None:
                    key = uid(intent.deployment_id)
                    self._cache.touched("applied_state", [key])
                    cursor.execute(UPSERT_APPLIED, applied_row(key, outcome.applied, action_id))
                ids.append(action_id)
            return ids

    def pending_actions(self) -> list[ActionRecord]:
        """Return the actions recorded as intended but never finished (a crash in between), oldest first."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                f"SELECT {ACTION_COLUMNS} FROM actions WHERE result = 'pending' ORDER BY id"
            ).fetchall()
        return [_action(row) for row in rows]

    def get_action(self, action_id: int) -> ActionRecord | None:
        """Return audit record ``action_id``, or ``None`` if there is none."""
        with self._db.transaction(write=False) as cursor:
            row = cursor.execute(f"SELECT {ACTION_COLUMNS} FROM actions WHERE id = ?", (int(action_id),)).fetchone()
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
                rows = cursor.execute(f"SELECT {ACTION_COLUMNS} FROM actions ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = cursor.execute(
                    f"SELECT {ACTION_COLUMNS} FROM actions WHERE deployment_id = ? ORDER BY id DESC LIMIT ?",
                    (uid(deployment_id), limit),
                )
            return [_action(row) for row in rows.fetchall()]

    def latest_actions(self) -> dict[UUID, ActionRecord]:
        """Return the newest audit record of each deployment that has one, read in one query."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                f"SELECT {ACTION_COLUMNS} FROM actions "
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
                (uid(deployment_id), action, instant_to_db(since, "since"), *results),
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


def _returned_id(cursor: Cursor) -> int:
    row = cursor.fetchone()
    assert row is not None, "INSERT ... RETURNING id returned no row"
    return int(row[0])


def intent_row(intent: ActionIntent, result: str, outcome: ActionOutcome | None) -> tuple[Any, ...]:
    return (
        uid(intent.deployment_id),
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

