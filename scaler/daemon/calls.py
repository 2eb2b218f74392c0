"""The calls to make for one deployment (:class:`Calls`): its steps in order, the state they establish,
why, and how urgent they are.

**Urgency** (:func:`urgency`), most urgent first: calls that save money (stops,
scale-downs) before those that increase spend (starts, scale-ups, restarts), and
deletions last (irreversible, and never time-critical); within each, the calls waiting
longest (calls deferred in an earlier cycle go before new ones); then by name.
Whether calls save or spend is judged against the last applied bounds, or, when
they are unknown, the policy's default bounds (its lowest state when the default has
none): a stop or a scale-down never waits for a blocked wallet or a quota backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment
from scaler.store.records import AppliedState
from scaler.vocabulary import ActionName

CallsKind = Literal["first_sight", "change", "complete", "drift", "resume", "restart", "expire"]

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
class Calls:
    """What to do with one deployment: its steps in order and the state they establish.

    ``target`` is recorded as the applied state when the last step succeeds (``None``:
    the applied state does not change, as for a restart or a deletion). A plan without
    steps only notes ``target`` as applied (the deployment is already that way). A
    ``blocked`` plan is reported and never carried out.
    """

    deployment: Deployment
    kind: CallsKind
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
        return applied_text(self.previous)

    def to_text(self) -> str:
        """The state after the plan, for logs."""
        if self.target is not None:
            return self.target.describe()
        if any(step.action == "delete" for step in self.steps):
            return "deleted"
        return "restarted"


def urgency(plan: Calls, waiting_since: datetime) -> tuple[object, ...]:
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


def applied_text(applied: AppliedState) -> str:
    """An applied state for logs and reasons: ``stopped``, ``min=1 max=3`` (and the calls still due)."""
    text = f"min={applied.min_replicas} max={applied.max_replicas}" if applied.kind == "bounds" else applied.kind
    return f"{text} ({' and '.join(applied.remaining)} still due)" if applied.remaining else text
