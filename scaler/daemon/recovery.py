"""Crash recovery: settling actions recorded as intended whose outcome was never written.

A ``kill -9`` (or a store that failed after a call) can leave audit records ``pending``:
the call may or may not have reached the platform. Before it acts again, the daemon
compares each one with what the platform now reports, and finishes it:

- ``stop``: SCALED_DOWN confirms it (success, its state recorded as applied); otherwise error.
- ``start``: DEPLOYED or DEPLOYING confirms it; otherwise error.
- ``delete``: DELETING or DELETED confirms it; otherwise error. A deployment no longer
  listed is asked about (its health): "not found" or "deleted" confirms the deletion;
  an answer means it still exists (error), and so does no answer (error: the next
  cycle decides again). Absence from the list alone proves nothing: a list can come
  back empty or without a damaged item.
- ``update_replicas``: the platform does not report replica bounds, so the outcome cannot
  be known: error ("outcome unknown"), and the applied state is forgotten with it. The
  next cycle applies the desired state once more (the call is idempotent), whether it is
  still the bounds that were sent or has changed back to what was applied before.
- ``restart``: SCALED_DOWN means its stop went out and its start did not: the start is
  sent now (through the executor, write-ahead like any action) and the restart is
  settled by that start's outcome. DEPLOYED cannot tell "never stopped" from "stopped and
  started again": error ("outcome unknown"); the health rule decides again from fresh
  health, and a completed restart has changed the health (a new episode), so it is
  never repeated for the same episode.

An action settled as error was not applied; the level-triggered cycle that follows
decides again, so a missed transition is caught up and no applied action is repeated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

import structlog

from scaler.daemon.calls import Calls, Step
from scaler.daemon.decide import applied_state_of
from scaler.daemon.execution import Execution
from scaler.daemon.executor import Executor
from scaler.policy import DesiredState
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import InvalidRequest, NotFound, SimplismartError
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.store import ActionRecord, AppliedState, Store

log = structlog.get_logger()

CONFIRMING_STATUS: dict[str, frozenset[DeploymentStatus]] = {
    "stop": frozenset({DeploymentStatus.SCALED_DOWN}),
    "start": frozenset({DeploymentStatus.DEPLOYED, DeploymentStatus.DEPLOYING}),
    "delete": frozenset({DeploymentStatus.DELETING, DeploymentStatus.DELETED}),
}


@dataclass(frozen=True)
class Settlement:
    """How one pending action is finished after a crash."""

    result: Literal["success", "error"]
    message: str
    applied: AppliedState | None = None
    complete_restart: bool = False
    state_unknown: bool = False


def settle(
    record: ActionRecord, deployment: Deployment | None, *, now: datetime, gone: bool | None = None
) -> Settlement:
    """Return how to finish the pending ``record`` given the deployment as listed now (``None``: not listed).

    ``gone`` is what the platform says of a deployment not listed: ``True`` (not found or
    deleted), ``False`` (it answered: it exists), ``None`` (not asked, or no answer).
    """
    if deployment is None:
        if record.action == "delete" and gone:
            return Settlement("success", "interrupted; confirmed: the platform no longer has the deployment")
        if record.action == "delete":
            found = "it still exists" if gone is False else "the platform could not confirm it"
            return Settlement("error", f"interrupted; not listed, but {found}; decided again")
        return Settlement("error", "interrupted; the deployment is no longer listed")
    status = deployment.status
    if record.action == "restart":
        if status is DeploymentStatus.SCALED_DOWN:
            return Settlement("error", "interrupted after its stop; completed by a new start", complete_restart=True)
        return Settlement("error", f"interrupted; outcome unknown ({status.value}); the health rule decides again")
    if record.action == "update_replicas":
        return Settlement(
            "error", "interrupted; outcome unknown (bounds are not reported); decided again", state_unknown=True
        )
    confirming = CONFIRMING_STATUS.get(record.action)
    if confirming is None or status not in confirming:
        return Settlement("error", f"interrupted; not confirmed by the platform (status {status.value}); decided again")
    return Settlement(
        "success",
        f"interrupted; confirmed by the platform (status {status.value})",
        applied=_applied_target(record, now),
    )


def _applied_target(record: ActionRecord, now: datetime) -> AppliedState | None:
    """The state the record would have applied (its ``target`` parameter), or ``None``."""
    target = record.parameters.get("target")
    if not isinstance(target, str):
        return None
    try:
        desired = DesiredState.from_description(target)
    except ValueError:
        return None
    source = record.parameters.get("source")
    return applied_state_of(
        desired,
        at=now,
        policy=record.policy,
        source=source if isinstance(source, str) else "",
        decided_at=record.started_at,
    )


async def recover_pending(
    *,
    store: Store,
    executor: Executor,
    client: SimplismartClient,
    inventory: Mapping[UUID, Deployment],
    now: datetime,
) -> Execution:
    """Settle every pending action of the store against ``inventory``; return what changed.

    ``client`` asks the platform about a pending deletion whose deployment is not listed.
    Raises :class:`~scaler.store.StoreError` when the store cannot be read or written
    (the actions stay pending, to be settled by a later attempt).
    """
    execution = Execution()
    pending = await asyncio.to_thread(store.pending_actions)
    for record in pending:
        deployment = inventory.get(record.deployment_id)
        gone = None
        if deployment is None and record.action == "delete":
            gone = await platform_confirms_gone(client, record.deployment_id)
        settlement = settle(record, deployment, now=now, gone=gone)
        result, message = settlement.result, settlement.message
        if settlement.complete_restart and deployment is not None:
            completed = await _complete_restart(record, deployment, executor, now, execution)
            result = "success" if completed else "error"
            message = (
                "interrupted after its stop; completed by a new start"
                if completed
                else "interrupted after its stop; the new start did not succeed"
            )
        await asyncio.to_thread(
            store.finish_action,
            record.id,
            result=result,
            finished_at=now,
            platform_message=message,
            error_reason=None if result == "success" else "interrupted",
            applied=settlement.applied if result == "success" else None,
            state_unknown=settlement.state_unknown,
        )
        if settlement.applied is not None and result == "success":
            execution.applied[record.deployment_id] = replace(settlement.applied, action_id=record.id)
        if settlement.state_unknown:
            execution.state_unknown.add(record.deployment_id)
        log.warning(
            "action_recovered",
            action_id=record.id,
            deployment=record.deployment_name,
            deployment_id=str(record.deployment_id),
            action=record.action,
            started_at=record.started_at.isoformat(),
            result=result,
            message=message,
        )
    return execution


async def platform_confirms_gone(client: SimplismartClient, deployment_id: UUID) -> bool | None:
    """Ask the platform whether ``deployment_id`` is gone: ``True`` (404, or 400 "deleted"), ``False`` (it
    answers its health), ``None`` (no usable answer)."""
    try:
        await client.get_health(deployment_id)
    except (NotFound, InvalidRequest):
        return True
    except SimplismartError as error:
        log.warning("recovery_check_failed", deployment_id=str(deployment_id), reason=error.reason)
        return None
    return False


async def _complete_restart(
    record: ActionRecord, deployment: Deployment, executor: Executor, now: datetime, execution: Execution
) -> bool:
    """Start a deployment whose restart was interrupted after its stop; return whether the start succeeded."""
    source = record.parameters.get("source")
    plan = Calls(
        deployment=deployment,
        kind="restart",
        steps=(Step("start"),),
        target=None,
        previous=None,
        policy=record.policy or "",
        source=source if isinstance(source, str) else "",
        reason=f"completing restart {record.id}, interrupted by a crash after its stop",
    )
    done = await executor.execute([plan], now=now)
    execution.reports.extend(done.reports)
    execution.statuses.update(done.statuses)
    succeeded = any(report.result == "success" for report in done.reports)
    if succeeded and record.rule is not None:
        execution.restarted[record.deployment_id] = (record.rule, now)
    return succeeded
