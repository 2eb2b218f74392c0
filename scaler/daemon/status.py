"""What ``/status`` shows: every deployment as the daemon sees it, recent actions and the daemon's own facts.

:class:`DeploymentView` is what the reconciler keeps about one deployment after a cycle;
:func:`deployment_status` renders it as plain JSON data. Instants are ISO 8601 in UTC
with ``Z``; the API token never appears (nothing here holds it). A deployment's last
action is the one this process saw, else the newest record of the audit log (so it
survives a restart); ``drift`` says the platform visibly differs from the desired state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from scaler.daemon.clock import iso
from scaler.daemon.decide import Decision, drifted
from scaler.daemon.exceptions_in_force import NOTHING, InForce
from scaler.daemon.journal import ActionReport
from scaler.daemon.gauges import health_label
from scaler.policy import DesiredState, Resolution
from scaler.simplismart.models import Deployment, Pods
from scaler.store import ActionRecord, AppliedState, Backoff, ExceptionRecord, HealthTrack, Suspension


@dataclass
class DeploymentView:
    """One deployment after the last cycle that considered it."""

    deployment: Deployment
    resolution: Resolution | None = None
    decision: Decision | None = None
    applied: AppliedState | None = None
    health: HealthTrack | None = None
    pods: Pods | None = None
    suspension: Suspension | None = None
    exceptions: InForce = NOTHING
    """People's exceptions covering the deployment at the last cycle (and which of them decide)."""
    backoff: Backoff | None = None
    next_change: datetime | None = None
    next_state: Resolution | None = None
    """The engine's answer at ``next_change``, computed on demand (see ``next_state_known``)."""
    next_state_known: bool = False
    first_seen: datetime | None = None
    baseline: int = 1
    last_action: ActionReport | None = None
    waiting: tuple[str, datetime] | None = None
    """A deferred or blocked plan: its result and since when it waits."""
    error: str | None = None
    considered_at: datetime | None = None


def _state(state: DesiredState | None) -> str:
    return state.describe() if state is not None else "unchanged"


def _applied(applied: AppliedState | None) -> dict[str, Any] | None:
    if applied is None:
        return None
    state = f"min={applied.min_replicas} max={applied.max_replicas}" if applied.kind == "bounds" else applied.kind
    return {
        "state": state,
        "at": iso(applied.applied_at),
        "policy": applied.policy,
        "rule": applied.rule,
        "source": applied.source,
        "action_id": applied.action_id,
    }


def _drift(view: DeploymentView) -> bool:
    resolution = view.resolution
    if resolution is None or resolution.suspended or resolution.desired is None:
        return False
    return drifted(resolution.desired, view.deployment.status)


def deployment_status(
    view: DeploymentView,
    next_state: Resolution | None = None,
    *,
    recorded_action: ActionRecord | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Return one deployment's entry of ``/status`` (``next_state``: the engine's answer at the next
    change; ``recorded_action``: the newest audit record, shown when this process has seen no
    action; ``timezone``: the governing policy's zone, for people reading the times)."""
    deployment = view.deployment
    resolution = view.resolution
    decision = view.decision
    if view.last_action is not None:
        last_action = view.last_action.view()
    elif recorded_action is not None:
        last_action = recorded_action_view(recorded_action)
    else:
        last_action = None
    entry: dict[str, Any] = {
        "deployment_id": str(deployment.deployment_id),
        "deployment_name": deployment.deployment_name,
        "status": deployment.status.value,
        "status_raw": deployment.status_raw or deployment.status.value,
        "accelerator": deployment.accelerator,
        "accelerator_count": deployment.accelerator_count,
        "health": _health(view),
        "policy": resolution.policy if resolution else None,
        "timezone": timezone,
        "conflict": list(resolution.conflict) if resolution else [],
        "desired": _desired(resolution),
        "drift": _drift(view),
        "last_applied": _applied(view.applied),
        "next_transition": _next_transition(view, next_state),
        "suspension": _suspension(view.suspension),
        "exceptions": [exception_brief(exception) for exception in view.exceptions.covering],
        "backoff": _backoff(view.backoff),
        "skipped": decision.skip if decision is not None else None,
        "waiting": {"result": view.waiting[0], "since": iso(view.waiting[1])} if view.waiting else None,
        "last_action": last_action,
        "first_seen": iso(view.first_seen),
        "expires_at": iso(resolution.expire_at) if resolution else None,
        "grace_until": iso(resolution.grace_until) if resolution else None,
        "considered_at": iso(view.considered_at),
    }
    if view.error:
        entry["error"] = view.error
    return entry


def _health(view: DeploymentView) -> dict[str, Any]:
    health = view.health
    return {
        "value": health_label(health.value) if health else None,
        "since": iso(health.since) if health else None,
        "last_observed": iso(health.last_observed) if health else None,
        "pods": view.pods.model_dump() if view.pods is not None else None,
    }


def _desired(resolution: Resolution | None) -> dict[str, Any] | None:
    if resolution is None:
        return None
    return {"state": _state(resolution.desired), "source": resolution.source, "enforce": resolution.enforce}


def _next_transition(view: DeploymentView, next_state: Resolution | None) -> dict[str, Any] | None:
    if view.next_change is None:
        return None
    return {
        "at": iso(view.next_change),
        "state": _state(next_state.desired) if next_state else None,
        "source": next_state.source if next_state else None,
    }


def _suspension(suspension: Suspension | None) -> dict[str, Any] | None:
    if suspension is None:
        return None
    return {
        "until": iso(suspension.until),
        "reason": suspension.reason,
        "by": suspension.created_by,
        "since": iso(suspension.created_at),
    }


def _backoff(backoff: Backoff | None) -> dict[str, Any] | None:
    if backoff is None:
        return None
    return {"until": iso(backoff.until), "failures": backoff.failures, "reason": backoff.reason}


def exception_state(state: str | None) -> str | dict[str, int] | None:
    """An override's state as the API takes it: ``running``, ``stopped`` or ``{min_replicas, max_replicas}``."""
    if state is None or state in ("running", "stopped"):
        return state
    parts = dict(part.split("=", 1) for part in state.split())
    return {"min_replicas": int(parts["min"]), "max_replicas": int(parts["max"])}


def exception_target(exception: ExceptionRecord) -> dict[str, Any]:
    """The exception's target as the API takes it: ``{deployment}``, ``{policy}`` or ``{all: true}``."""
    if exception.target_kind == "all":
        return {"all": True}
    if exception.target_kind == "policy":
        return {"policy": exception.target}
    return {"deployment": exception.target, "name": exception.target_name}


def exception_brief(exception: ExceptionRecord) -> dict[str, Any]:
    """One exception in force as a deployment's entry shows it: kind, state, until, by, reason."""
    return {
        "id": exception.id,
        "kind": exception.kind,
        "target": exception_target(exception),
        "state": exception_state(exception.state),
        "until": iso(exception.until),
        "by": exception.created_by,
        "reason": exception.reason,
    }


def exception_document(exception: ExceptionRecord, names: Mapping[UUID, str], now: datetime) -> dict[str, Any]:
    """One exception as the control API answers it (``names``: deployment names by id, where known)."""
    return {
        **exception_brief(exception),
        "deployments": [
            {"id": str(deployment_id), "name": names.get(deployment_id)} for deployment_id in exception.deployment_ids
        ],
        "created_at": iso(exception.created_at),
        "ended_at": iso(exception.ended_at),
        "ended_by": exception.ended_by,
        "active": exception.active(now),
    }


def recorded_action_view(record: ActionRecord) -> dict[str, Any]:
    """Return an audit record in the shape of a deployment's ``last_action`` (as ``ActionReport.view``)."""
    return {
        "action": record.action,
        "result": record.result,
        "at": iso(record.started_at),
        "policy": record.policy,
        "rule": record.rule,
        "reason": record.reason,
        "message": record.platform_message,
        "request_id": record.request_id,
    }


def action_entry(record: ActionRecord) -> dict[str, Any]:
    """Return one audit record as ``/status`` shows it among the recent actions."""
    return {
        "id": record.id,
        "deployment_id": str(record.deployment_id),
        "deployment_name": record.deployment_name,
        "action": record.action,
        "parameters": {
            key: value for key, value in record.parameters.items() if key in ("min_replicas", "max_replicas")
        },
        "result": record.result,
        "dry_run": record.dry_run,
        "policy": record.policy,
        "rule": record.rule,
        "reason": record.reason,
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "message": record.platform_message,
        "request_id": record.request_id,
    }
