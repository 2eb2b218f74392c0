"""What to do with one deployment, decided without I/O: the engine's answer in, the calls to make
(:class:`~scaler.daemon.calls.Calls`) out.

:func:`decide` takes the engine's :class:`~scaler.policy.Resolution` for a deployment,
what the scaler last applied to it (the store's memory), what the platform reports
(its status), its backoff and whether deletion is allowed, and returns a
:class:`Decision`: the plans to carry out, or why nothing is done.

**Edge and level.** The scaler acts when the desired state differs from what it last
applied (``change``; ``first_sight`` when it has applied nothing yet, ``resume`` when a
suspension just ended), so a person's manual change in between is respected. A plan
interrupted between its calls (a shutdown after ``update_replicas``, a refused
``start``) left its completed calls on record (``AppliedState.remaining``): the next
decision sends only the rest (``complete``), or notes the state when the platform
already shows it. With
``enforce: true`` it also corrects drift it can observe (``drift``): running while it
should be stopped, stopped while it should run.

**Calls for a state.** ``stopped``: ``stop`` (already SCALED_DOWN: nothing to call, the
state is only noted as applied). Bounds: ``update_replicas``, then ``start`` when it is
SCALED_DOWN and ``min_replicas > 0`` (with a floor of 0 SCALED_DOWN is legitimate: scaled
to zero). ``running``: ``start`` when SCALED_DOWN. A due restart rule: ``restart`` (stop,
then start) when nothing else is planned and the deployment runs. Expired under
``expire``: ``delete`` when deletion is allowed, else a blocked plan while the schedule
goes on.

**Skipped**: suspended deployments, new deployments in their grace period, conflicts, deployments no policy governs, and every
status but DEPLOYED and SCALED_DOWN (DEPLOYING, FAILED, DELETING, DELETED, unknown).
While a backoff runs, plans that increase spend wait; plans that save money go on.

How urgent the calls are is :mod:`scaler.daemon.calls`' answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from scaler.daemon.calls import Calls, CallsKind, Step, applied_text
from scaler.daemon.clock import iso
from scaler.policy import DesiredState, Resolution
from scaler.simplismart.models import ACTIVE_STATUSES, Deployment, DeploymentStatus
from scaler.store.records import AppliedState, Backoff
@dataclass(frozen=True)
class Decision:
    """The plans for one deployment, or why nothing is done (``skip``)."""

    plans: tuple[Calls, ...] = ()
    skip: str | None = None


def decide(
    deployment: Deployment,
    resolution: Resolution,
    *,
    applied: AppliedState | None,
    now: datetime,
    allow_delete: bool,
    backoff: Backoff | None = None,
    resumed: bool = False,
    spend_reference: tuple[int, int] | None = None,
) -> Decision:
    """Return what to do with ``deployment`` at ``now`` (see the module's docstring).

    ``applied`` is what the scaler last applied (``None``: nothing yet), ``resumed``
    whether a suspension of the deployment just ended (the desired state is then applied
    once, as on first sight). ``spend_reference``: the governing policy's
    :attr:`~scaler.policy.Policy.spend_reference`, which a change of bounds is compared
    with when the applied bounds are unknown.
    """
    skip = _skipped(deployment, resolution)
    if skip is not None:
        return Decision(skip=skip)
    plans: list[Calls] = []
    if resolution.expire_at is not None and now >= resolution.expire_at:
        expiry = _expiry(deployment, resolution, resolution.expire_at, applied=applied, allow_delete=allow_delete)
        if allow_delete:
            return Decision(plans=(expiry,))
        plans.append(expiry)
    convergence = _converge(
        deployment,
        resolution,
        applied=None if resumed else applied,
        previous=applied,
        resumed=resumed,
        spend_reference=spend_reference,
    )
    if convergence is not None:
        plans.append(convergence)
    elif resolution.restart_due is not None and deployment.status is DeploymentStatus.DEPLOYED:
        plans.append(_restart(deployment, resolution, resolution.restart_due, applied=applied))

    if backoff is not None and now < backoff.until:
        waiting = [plan for plan in plans if plan.increases_spend and plan.blocked is None]
        plans = [plan for plan in plans if plan not in waiting]
        if waiting and not plans:
            return Decision(
                skip=f"backing off until {iso(backoff.until)} after {backoff.failures} failures ({backoff.reason})"
            )
    if plans:
        return Decision(plans=tuple(plans))
    if resolution.desired is None:
        return Decision(skip=f"left alone (source {resolution.source})")
    return Decision(skip=None)


def _skipped(deployment: Deployment, resolution: Resolution) -> str | None:
    """Why nothing is done with ``deployment`` whatever it shows (``None``: it is decided for)."""
    if resolution.suspended:
        return f"suspended until {iso(resolution.next_change)}"
    if resolution.grace_until is not None:
        return f"grace period until {iso(resolution.grace_until)}: a new deployment is left alone"
    if resolution.conflict:
        return f"conflict between policies {', '.join(resolution.conflict)}"
    if resolution.policy is None:
        return "no policy governs it"
    if deployment.status not in ACTIVE_STATUSES:
        label = deployment.status_raw or deployment.status.value
        return f"status {label}: the scaler acts only on DEPLOYED and SCALED_DOWN deployments"
    return None


def _expiry(
    deployment: Deployment,
    resolution: Resolution,
    expire_at: datetime,
    *,
    applied: AppliedState | None,
    allow_delete: bool,
) -> Calls:
    """The deletion of an expired deployment (blocked when deletion is not allowed)."""
    return Calls(
        deployment=deployment,
        kind="expire",
        steps=(Step("delete"),),
        target=None,
        previous=applied,
        policy=resolution.policy or "",
        source="expire",
        reason=f"expired at {iso(expire_at)}",
        blocked=None if allow_delete else "deletion is not allowed (SCALER_ALLOW_DELETE is false)",
    )


def _restart(deployment: Deployment, resolution: Resolution, rule: str, *, applied: AppliedState | None) -> Calls:
    """The restart a health rule asks for."""
    return Calls(
        deployment=deployment,
        kind="restart",
        steps=(Step("restart"),),
        target=None,
        previous=applied,
        policy=resolution.policy or "",
        source=f"health:{rule}",
        reason=f"health rule {rule} asks for a restart",
        restart_rule=rule,
    )


def _converge(
    deployment: Deployment,
    resolution: Resolution,
    *,
    applied: AppliedState | None,
    previous: AppliedState | None,
    resumed: bool,
    spend_reference: tuple[int, int] | None,
) -> Calls | None:
    """Return the plan that brings the deployment to the desired state, or ``None`` when nothing is due."""
    desired = resolution.desired
    if desired is None:
        return None
    status = deployment.status
    kind: CallsKind
    if applied is not None and applied.remaining and same_state(applied, desired):
        # A plan was interrupted after some of its calls: send the rest, never a completed one again.
        kind = "complete"
        steps = tuple(step for step in _steps_towards(desired, status) if step.action in applied.remaining)
        reason = f"completing an interrupted plan: {' and '.join(applied.remaining)} still due"
    elif applied is None or not same_state(applied, desired):
        kind = "resume" if resumed else ("first_sight" if applied is None else "change")
        steps = _steps_towards(desired, status)
        reason = {
            "first_sight": "first sight (or the last call's outcome is unknown): the desired state is applied once",
            "resume": "suspension ended: the desired state is applied once",
            "change": f"desired state changed from {applied_text(applied) if applied else 'unknown'}",
        }[kind]
    elif resolution.enforce:
        steps = _drift_correction(desired, status)
        if not steps:
            return None
        kind = "drift"
        reason = f"enforce: {status.value} while it should be {desired.describe()}"
    else:
        return None
    return Calls(
        deployment=deployment,
        kind=kind,
        steps=steps,
        target=desired,
        previous=previous,
        policy=resolution.policy or "",
        source=resolution.source,
        reason=f"{reason} ({resolution.cause})",
        spend_reference=spend_reference,
    )


def _steps_towards(desired: DesiredState, status: DeploymentStatus) -> tuple[Step, ...]:
    """The calls that establish ``desired`` from the observed ``status`` (empty: already so)."""
    scaled_down = status is DeploymentStatus.SCALED_DOWN
    if desired.kind == "stopped":
        return () if scaled_down else (Step("stop"),)
    if desired.kind == "running":
        return (Step("start"),) if scaled_down else ()
    steps = [Step("update_replicas", desired.min_replicas, desired.max_replicas)]
    if scaled_down and (desired.min_replicas or 0) > 0:
        steps.append(Step("start"))
    return tuple(steps)


def _drift_correction(desired: DesiredState, status: DeploymentStatus) -> tuple[Step, ...]:
    """The calls that undo observable drift from ``desired`` (bounds cannot be observed)."""
    if desired.kind == "stopped":
        return (Step("stop"),) if status is DeploymentStatus.DEPLOYED else ()
    should_run = desired.kind == "running" or (desired.min_replicas or 0) > 0
    return (Step("start"),) if should_run and status is DeploymentStatus.SCALED_DOWN else ()


def drifted(desired: DesiredState, status: DeploymentStatus) -> bool:
    """Whether the platform's ``status`` visibly differs from ``desired`` (what ``enforce`` corrects)."""
    return bool(_drift_correction(desired, status))


def same_state(applied: AppliedState, desired: DesiredState) -> bool:
    """Whether the applied state is the desired one (kind and, for bounds, both bounds)."""
    if applied.kind != desired.kind:
        return False
    return applied.kind != "bounds" or (applied.min_replicas, applied.max_replicas) == (
        desired.min_replicas,
        desired.max_replicas,
    )


def applied_state_of(
    desired: DesiredState,
    *,
    at: datetime,
    policy: str | None,
    source: str,
    decided_at: datetime | None = None,
    remaining: tuple[str, ...] = (),
) -> AppliedState:
    """Return the store's record of ``desired`` applied at ``at`` under ``policy`` from ``source``, decided at
    ``decided_at``; ``remaining``: the calls of its plan still to send (none: the state is complete)."""
    rule = source.split(":", 1)[1] if ":" in source else None
    return AppliedState(
        kind=desired.kind,
        applied_at=at,
        min_replicas=desired.min_replicas,
        max_replicas=desired.max_replicas,
        policy=policy,
        rule=rule,
        source=source,
        decided_at=decided_at,
        remaining=remaining,
    )


def desired_of(applied: AppliedState) -> DesiredState:
    """Return the desired state an applied state records."""
    return _desired(applied.kind, applied.min_replicas, applied.max_replicas)


@lru_cache(maxsize=4096)
def _desired(kind: str, low: int | None, high: int | None) -> DesiredState:
    if kind == "bounds":
        return DesiredState.bounds(low or 0, high or 1)
    return DesiredState.stopped() if kind == "stopped" else DesiredState.running()
