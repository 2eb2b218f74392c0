"""What to do with one deployment, decided without I/O: the engine's answer in, a plan of calls out.

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

**Urgency** (:func:`urgency`), most urgent first: plans that save money (stops,
scale-downs) before those that increase spend (starts, scale-ups, restarts), and
deletions last (irreversible, and never time-critical); within each, the plan waiting
longest (a plan deferred in an earlier cycle goes before new ones); then by name.
Whether a plan saves or spends is judged against the last applied bounds, or, when
they are unknown, the policy's default bounds (its lowest state when the default has
none): a stop or a scale-down never waits for a blocked wallet or a quota backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal
from uuid import UUID

from scaler.daemon.clock import iso
from scaler.policy import DesiredState, Resolution
from scaler.simplismart.models import ACTIVE_STATUSES, Deployment, DeploymentStatus
from scaler.store.records import AppliedState, Backoff
from scaler.vocabulary import ActionName
PlanKind = Literal["first_sight", "change", "complete", "drift", "resume", "restart", "expire"]

#: The actions sent through the platform's startstop endpoint (a restart is a stop, then a start).
STARTSTOP_ACTIONS = frozenset({"start", "stop", "restart"})

#: Urgency classes: lower goes first.
SAVES_MONEY, INCREASES_SPEND, DELETES = 0, 1, 2


@dataclass(frozen=True)
class Step:
    """One action of a plan: one audit record (``restart`` sends two calls: stop, then start)."""

    action: ActionName
    min_replicas: int | None = None
    max_replicas: int | None = None

    @property
    def parameters(self) -> dict[str, int]:
        """The call's parameters (replica bounds for ``update_replicas``)."""
        if self.min_replicas is None or self.max_replicas is None:
            return {}
        return {"min_replicas": self.min_replicas, "max_replicas": self.max_replicas}

    def describe(self) -> str:
        """Return ``stop`` or ``update_replicas min=1 max=3``."""
        if self.min_replicas is None:
            return self.action
        return f"{self.action} min={self.min_replicas} max={self.max_replicas}"


@dataclass(frozen=True)
class Plan:
    """What to do with one deployment: its steps in order and the state they establish.

    ``target`` is recorded as the applied state when the last step succeeds (``None``:
    the applied state does not change, as for a restart or a deletion). A plan without
    steps only notes ``target`` as applied (the deployment is already that way). A
    ``blocked`` plan is reported and never carried out.
    """

    deployment: Deployment
    kind: PlanKind
    steps: tuple[Step, ...]
    target: DesiredState | None
    previous: AppliedState | None
    policy: str
    source: str
    reason: str
    restart_rule: str | None = None
    blocked: str | None = None
    spend_reference: tuple[int, int] | None = None
    """The bounds compared with when the applied bounds are unknown (see :func:`_raises_bounds`)."""

    @property
    def rule(self) -> str | None:
        """The window or health rule behind the plan (``None`` for the default)."""
        if self.restart_rule is not None:
            return self.restart_rule
        return self.source.split(":", 1)[1] if ":" in self.source else None

    @property
    def increases_spend(self) -> bool:
        """Whether a step starts something or raises replica bounds (paused while the wallet is blocked
        or a quota refusal backs the deployment off); stops and scale-downs never wait for either."""
        for step in self.steps:
            if step.action in ("start", "restart"):
                return True
            if step.action == "update_replicas" and _raises_bounds(self.previous, step, self.spend_reference):
                return True
        return False

    @property
    def sends_startstop(self) -> bool:
        """Whether a step goes through startstop (paused while the platform refuses SCALER_ORG_ID)."""
        return any(step.action in STARTSTOP_ACTIONS for step in self.steps)

    @property
    def urgency_class(self) -> int:
        """:data:`SAVES_MONEY`, :data:`INCREASES_SPEND` or :data:`DELETES`."""
        if any(step.action == "delete" for step in self.steps):
            return DELETES
        return INCREASES_SPEND if self.increases_spend else SAVES_MONEY

    @property
    def slot(self) -> tuple[UUID, str]:
        """Which of a deployment's concerns the plan serves: its state, or its expiry (they are reported apart)."""
        return (self.deployment.deployment_id, "expiry" if self.kind == "expire" else "state")

    @property
    def key(self) -> tuple[object, ...]:
        """Identifies the plan across cycles: the same key is reported (deferred, blocked) once."""
        target = self.target.describe() if self.target is not None else None
        return (self.deployment.deployment_id, self.kind, tuple(self.steps), target, self.blocked)

    def from_text(self) -> str:
        """The state before the plan, for logs: the last applied state, or ``unknown``."""
        if self.previous is None:
            return "unknown"
        return _applied_text(self.previous)

    def to_text(self) -> str:
        """The state after the plan, for logs."""
        if self.target is not None:
            return self.target.describe()
        if any(step.action == "delete" for step in self.steps):
            return "deleted"
        return "restarted"


@dataclass(frozen=True)
class Decision:
    """The plans for one deployment, or why nothing is done (``skip``)."""

    plans: tuple[Plan, ...] = ()
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
    if resolution.suspended:
        return Decision(skip=f"suspended until {iso(resolution.next_change)}")
    if resolution.grace_until is not None:
        return Decision(skip=f"grace period until {iso(resolution.grace_until)}: a new deployment is left alone")
    if resolution.conflict:
        return Decision(skip=f"conflict between policies {', '.join(resolution.conflict)}")
    if resolution.policy is None:
        return Decision(skip="no policy governs it")
    if deployment.status not in ACTIVE_STATUSES:
        label = deployment.status_raw or deployment.status.value
        return Decision(skip=f"status {label}: the scaler acts only on DEPLOYED and SCALED_DOWN deployments")

    plans: list[Plan] = []
    if resolution.expire_at is not None and now >= resolution.expire_at:
        expiry = Plan(
            deployment=deployment,
            kind="expire",
            steps=(Step("delete"),),
            target=None,
            previous=applied,
            policy=resolution.policy,
            source="expire",
            reason=f"expired at {iso(resolution.expire_at)}",
            blocked=None if allow_delete else "deletion is not allowed (SCALER_ALLOW_DELETE is false)",
        )
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
        plans.append(
            Plan(
                deployment=deployment,
                kind="restart",
                steps=(Step("restart"),),
                target=None,
                previous=applied,
                policy=resolution.policy,
                source=f"health:{resolution.restart_due}",
                reason=f"health rule {resolution.restart_due} asks for a restart",
                restart_rule=resolution.restart_due,
            )
        )

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


def _converge(
    deployment: Deployment,
    resolution: Resolution,
    *,
    applied: AppliedState | None,
    previous: AppliedState | None,
    resumed: bool,
    spend_reference: tuple[int, int] | None,
) -> Plan | None:
    """Return the plan that brings the deployment to the desired state, or ``None`` when nothing is due."""
    desired = resolution.desired
    if desired is None:
        return None
    status = deployment.status
    kind: PlanKind
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
            "change": f"desired state changed from {_applied_text(applied) if applied else 'unknown'}",
        }[kind]
    elif resolution.enforce:
        steps = _drift_correction(desired, status)
        if not steps:
            return None
        kind = "drift"
        reason = f"enforce: {status.value} while it should be {desired.describe()}"
    else:
        return None
    return Plan(
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


def urgency(plan: Plan, waiting_since: datetime) -> tuple[object, ...]:
    """Sort key of a plan, most urgent first (see the module's docstring)."""
    return (plan.urgency_class, waiting_since, plan.deployment.deployment_name, str(plan.deployment.deployment_id))


def _raises_bounds(previous: AppliedState | None, step: Step, reference: tuple[int, int] | None) -> bool:
    """Whether ``step`` raises a bound above the last applied bounds.

    When those are unknown (nothing applied, a stopped or running state, or an outcome
    left unknown), the step is compared with ``reference``, the policy's default bounds
    or its lowest state; with no reference at all it counts as raised.
    """
    if previous is not None and previous.kind == "bounds":
        low, high = previous.min_replicas or 0, previous.max_replicas or 0
    elif reference is not None:
        low, high = reference
    else:
        return True
    return (step.min_replicas or 0) > low or (step.max_replicas or 0) > high


def _applied_text(applied: AppliedState) -> str:
    text = f"min={applied.min_replicas} max={applied.max_replicas}" if applied.kind == "bounds" else applied.kind
    return f"{text} ({' and '.join(applied.remaining)} still due)" if applied.remaining else text
