"""Which of people's exceptions apply to a deployment, and which one decides.

An exception covers a deployment when its target named it at creation (its resolved ids),
when it targets the policy that governs the deployment now (so a deployment that appears
later is covered too), or when it targets all deployments. A suspension beats an override;
among overrides the most specific target wins (deployment, then policy, then all), then the
newest. Pure: the caller passes the exceptions read from the store and the instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from scaler.policy import DesiredState, ExceptionSpan, Override, PolicySet, match_policies
from scaler.simplismart.models import Deployment
from scaler.store import ExceptionRecord, Suspension

_SPECIFICITY = {"deployment": 0, "policy": 1, "all": 2}


def covers(exception: ExceptionRecord, deployment_id: UUID, policy: str | None) -> bool:
    """Whether ``exception`` applies to ``deployment_id``, governed now by ``policy`` (``None``: none)."""
    if exception.target_kind == "all" or deployment_id in exception.deployment_ids:
        return True
    return exception.target_kind == "policy" and policy is not None and exception.target == policy


@dataclass(frozen=True)
class InForce:
    """The exceptions covering one deployment at one instant (``covering``, oldest first) and the two
    that decide: the suspension that lasts longest, else the override that wins."""

    covering: tuple[ExceptionRecord, ...] = ()
    suspension: ExceptionRecord | None = None
    override: ExceptionRecord | None = None

    @property
    def suspended_until(self) -> datetime | None:
        """When the deployment's suspension ends (``None``: not suspended)."""
        return self.suspension.until if self.suspension is not None else None

    def engine_override(self) -> Override | None:
        """The override as the policy engine takes it (``None`` while suspended or without one)."""
        if self.suspension is not None or self.override is None or self.override.state is None:
            return None
        return Override(
            state=DesiredState.from_description(self.override.state),
            until=self.override.until,
            source=f"override:{self.override.id}",
            by=self.override.created_by,
            reason=self.override.reason,
        )

    def suspension_view(self, deployment_id: UUID, deployment_name: str) -> Suspension | None:
        """The deciding suspension as ``/status`` has always shown one."""
        found = self.suspension
        if found is None:
            return None
        return Suspension(
            deployment_id=deployment_id,
            deployment_name=deployment_name,
            until=found.until,
            reason=found.reason,
            created_at=found.created_at,
            created_by=found.created_by,
        )


NOTHING = InForce()


def _suspension_rank(exception: ExceptionRecord) -> tuple[float, float, str]:
    """The suspension that lasts longest first (then the newest)."""
    return (-exception.until.timestamp(), -exception.created_at.timestamp(), exception.id)


def _override_rank(exception: ExceptionRecord) -> tuple[int, float, str]:
    """The most specific override first, then the newest."""
    return (_SPECIFICITY[exception.target_kind], -exception.created_at.timestamp(), exception.id)


def by_precedence(exceptions: Iterable[ExceptionRecord]) -> list[ExceptionRecord]:
    """Return ``exceptions`` in the order they decide: suspensions (longest first), then overrides
    (most specific, then newest, first)."""
    listed = list(exceptions)
    suspensions = sorted((e for e in listed if e.kind == "suspend"), key=_suspension_rank)
    return suspensions + sorted((e for e in listed if e.kind == "override"), key=_override_rank)


def in_force(
    exceptions: Iterable[ExceptionRecord], deployment_id: UUID, policy: str | None, now: datetime
) -> InForce:
    """Return the exceptions active at ``now`` that cover ``deployment_id`` (governed by ``policy``)."""
    if isinstance(exceptions, (list, tuple)) and not exceptions:  # asked for every deployment every cycle
        return NOTHING
    covering = tuple(e for e in exceptions if e.active(now) and covers(e, deployment_id, policy))
    if not covering:
        return NOTHING
    suspension = min((e for e in covering if e.kind == "suspend"), key=_suspension_rank, default=None)
    override = min((e for e in covering if e.kind == "override"), key=_override_rank, default=None)
    return InForce(covering=covering, suspension=suspension, override=override)


def spans_over(
    recorded: Iterable[ExceptionRecord],
    policy_set: PolicySet,
    deployments: Iterable[Deployment],
    start: datetime,
    until: datetime,
) -> dict[UUID, list[ExceptionSpan]]:
    """Return the exceptions of ``recorded`` in force at some instant of ``[start, until)`` covering each
    deployment, in precedence order, as the plan engine takes them (see :func:`scaler.policy.build_plan`)."""
    overlapping = by_precedence(e for e in recorded if e.created_at < until and e.ends_at() > start)
    if not overlapping:
        return {}
    spans: dict[UUID, list[ExceptionSpan]] = {}
    for deployment in deployments:
        matched = match_policies(policy_set, deployment).policy
        policy = matched.name if matched is not None else None
        covering = [_span(e) for e in overlapping if covers(e, deployment.deployment_id, policy)]
        if covering:
            spans[deployment.deployment_id] = covering
    return spans


def _span(exception: ExceptionRecord) -> ExceptionSpan:
    return ExceptionSpan(
        id=exception.id,
        kind=exception.kind,
        state=DesiredState.from_description(exception.state) if exception.state is not None else None,
        start=exception.created_at,
        end=exception.ends_at(),
        by=exception.created_by,
        reason=exception.reason,
    )
