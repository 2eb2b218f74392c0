"""The audit of actions: each one recorded ``pending`` before its call and finished after it
(write-ahead), then, only once recorded, logged and counted; the reports a cycle returns.

One :class:`Outcome` value says what became of a call. The audit's writes go through the
daemon's :class:`~scaler.daemon.store_access.StoreAccess`, their failures logged as
``store_write_failed`` (see :meth:`Journal.failures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from scaler.daemon.clock import Clock, iso
from scaler.daemon.calls import Calls, Step
from scaler.metrics import Metrics
from scaler.daemon.store_access import StoreAccess
from scaler.store import ActionIntent, ActionNotPending, ActionOutcome, AppliedState, StoreError

log = structlog.get_logger()


@dataclass(frozen=True)
class ActionReport:
    """What became of one action of a plan in one cycle.

    ``new`` is false for a deferred or blocked plan already reported in an earlier
    cycle: it is neither recorded, logged nor counted again.
    """

    deployment_id: UUID
    deployment_name: str
    action: str
    result: str
    policy: str
    rule: str | None
    reason: str
    at: datetime
    message: str | None = None
    request_id: str | None = None
    error_reason: str | None = None
    action_id: int | None = None
    new: bool = True
    by_configuration: bool = False
    """Blocked by the operator's settings (a deletion SCALER_ALLOW_DELETE forbids), not by the platform."""

    def view(self) -> dict[str, Any]:
        """Return the report as plain data for /status."""
        return {
            "action": self.action,
            "result": self.result,
            "at": iso(self.at),
            "policy": self.policy,
            "rule": self.rule,
            "reason": self.reason,
            "message": self.message,
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class Outcome:
    """What became of one call: its result and what the platform said; on success the applied state
    it established; ``state_unknown`` when it may or may not have taken effect (the applied state is
    forgotten); ``consequence`` what follows a failure, as logged."""

    result: str
    message: str | None = None
    request_id: str | None = None
    error_reason: str | None = None
    applied: AppliedState | None = None
    consequence: str | None = None
    state_unknown: bool = False


class Journal:
    """Records, logs and counts actions (see the module's docstring)."""

    def __init__(self, *, store: StoreAccess, metrics: Metrics, clock: Clock, dry_run: bool) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.dry_run = dry_run

    def failures(self, **fields: Any) -> StoreAccess:
        """The store, its failures reported as a write of the audit or of what follows from it."""
        return self._store.reporting(
            "store_write_failed",
            effect="the action is not reported as applied; crash recovery settles a pending one",
            **fields,
        )

    def intent(self, plan: Calls, step: Step, now: datetime, *, last: bool) -> ActionIntent:
        """The record of ``step`` of ``plan`` decided at ``now`` (``last``: it completes the plan's target)."""
        parameters: dict[str, Any] = dict(step.parameters)
        parameters["source"] = plan.source
        if last and plan.target is not None:
            parameters["target"] = plan.target.describe()
        return ActionIntent(
            deployment_id=plan.deployment.deployment_id,
            deployment_name=plan.deployment.deployment_name,
            action=step.action,
            started_at=now,
            parameters=parameters,
            reason=plan.reason,
            policy=plan.policy,
            rule=plan.rule,
            dry_run=self.dry_run,
        )

    async def begin(self, intents: Sequence[ActionIntent]) -> list[int] | None:
        """Record ``intents`` pending, in one transaction; their ids, or ``None`` when the store failed."""
        try:
            if len(intents) == 1:
                return [await self.failures().write("begin_action", intents[0])]
            return await self.failures().write("begin_actions", list(intents))
        except StoreError:
            return None

    async def record(self, entries: Sequence[tuple[ActionIntent, ActionOutcome]]) -> list[int] | None:
        """Record finished actions (held plans, dry runs) at once; their ids, or ``None`` when the store failed.
        The caller logs and counts them (:meth:`count`, :meth:`log`) once recorded."""
        try:
            return await self.failures().write("record_actions", list(entries))
        except StoreError:
            return None

    async def finish(self, action_id: int, plan: Calls, step: Step, outcome: Outcome) -> bool:
        """Record the outcome; then (only then) log and count it. Return whether it was recorded."""
        try:
            await self.failures(action_id=action_id).write(
                "finish_action",
                action_id,
                result=outcome.result,  # type: ignore[arg-type]
                finished_at=self._clock(),
                platform_message=outcome.message,
                request_id=outcome.request_id,
                error_reason=outcome.error_reason,
                applied=outcome.applied,
                state_unknown=outcome.state_unknown,
            )
        except ActionNotPending as error:
            # Another instance (a newer leader's crash recovery) settled it first: its record stands.
            log.warning(
                "action_settled_elsewhere",
                action_id=action_id,
                deployment=plan.deployment.deployment_name,
                deployment_id=str(plan.deployment.deployment_id),
                result=outcome.result,
                error=str(error),
                effect="the record another instance wrote is kept",
            )
            return False
        except StoreError:
            return False
        self.count(plan, step, outcome)
        self.log(plan, step, outcome)
        return True

    def report(
        self,
        plan: Calls,
        step: Step,
        outcome: Outcome,
        now: datetime,
        *,
        action_id: int | None = None,
        new: bool = True,
    ) -> ActionReport:
        """The cycle's report of ``step`` of ``plan``."""
        return ActionReport(
            deployment_id=plan.deployment.deployment_id,
            deployment_name=plan.deployment.deployment_name,
            action=step.action,
            result=outcome.result,
            policy=plan.policy,
            rule=plan.rule,
            reason=plan.reason,
            at=now,
            message=outcome.message,
            request_id=outcome.request_id,
            error_reason=outcome.error_reason,
            action_id=action_id,
            new=new,
        )

    def count(self, plan: Calls, step: Step, outcome: Outcome) -> None:
        """Count the action (and its error reason)."""
        self._metrics.actions.labels(action=step.action, result=outcome.result, policy=plan.policy).inc()
        if outcome.result == "error":
            self._metrics.action_errors.labels(action=step.action, reason=outcome.error_reason or "other").inc()

    def log(self, plan: Calls, step: Step, outcome: Outcome) -> None:
        """Log the action: one ``action`` line, a warning when it failed."""
        fields: dict[str, Any] = {
            "deployment": plan.deployment.deployment_name,
            "deployment_id": str(plan.deployment.deployment_id),
            "action": step.action,
            **({"min_replicas": step.min_replicas, "max_replicas": step.max_replicas}
               if step.min_replicas is not None else {}),
            "policy": plan.policy,
            "rule": plan.rule,
            "from": plan.from_text(),
            "to": plan.to_text(),
            "reason": plan.reason,
            "result": outcome.result,
            "dry_run": self.dry_run,
            "request_id": outcome.request_id,
        }
        if outcome.message:
            fields["message"] = outcome.message
        if outcome.error_reason:
            fields["error_reason"] = outcome.error_reason
        if outcome.consequence:
            fields["consequence"] = outcome.consequence
        if outcome.result == "error":
            log.warning("action", **fields)
        else:
            log.info("action", **fields)
