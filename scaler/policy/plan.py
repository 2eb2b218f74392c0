"""The plan: every deployment's predicted transitions and savings over a period.

``build_plan`` runs the schedule engine over ``[start, until)`` for each deployment
(health rules are not predicted) and adds up GPU-hours and cost with and without the
scaler. ``Plan.to_json()`` gives the object ``scaler plan --output json`` prints.
Deployments are in name order (then id). Deployments that are FAILED, DELETING or
DELETED are left out (the scaler never acts on them and they run no GPUs); they are
listed in ``Plan.skipped``. The dates on which a skip date keeps a recurring window
closed are listed with each deployment (``skipped_dates``). A new deployment (given with its
first sighting, see :func:`build_plan`) is left alone until its grace period ends (source
``grace``, ``grace_until``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from uuid import UUID
from functools import cached_property
from typing import Any

from scaler.policy.matching import match_policies
from scaler.policy.model import DesiredState, Policy, PolicySet
from scaler.policy.resolve import grace_ends_at
from scaler.policy.savings import Usage, baseline_replicas, savings_percent, usage_between
from scaler.policy.schedule import skipped_openings
from scaler.policy.zones import UTC, require_aware
from scaler.simplismart.models import Deployment, DeploymentStatus

#: Statuses a plan leaves out: the scaler never acts on them.
SKIPPED_STATUSES = frozenset({DeploymentStatus.FAILED, DeploymentStatus.DELETING, DeploymentStatus.DELETED})
_DIGITS = 6


def iso_utc(instant: datetime) -> str:
    """Return ``instant`` as ISO 8601 in UTC with ``Z`` (``2026-03-08T07:00:00Z``)."""
    return require_aware(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Transition:
    """From ``at`` on, the deployment is in ``state`` (``None``: left alone) because of ``source``."""

    at: datetime
    state: DesiredState | None
    source: str

    @cached_property
    def _at_text(self) -> str:
        return iso_utc(self.at)

    def to_json(self) -> dict[str, Any]:
        """Return the transition as the plan's JSON shape."""
        state = self.state
        if state is None:
            kind = "unchanged"
        else:
            kind = "stopped" if state.kind == "stopped" else "running"
        return {
            "at": self._at_text,
            "state": kind,
            "min_replicas": state.min_replicas if state is not None else None,
            "max_replicas": state.max_replicas if state is not None else None,
            "source": self.source,
        }


@dataclass(frozen=True)
class SkippedDate:
    """A local date on which ``skip_dates`` keep the recurring ``windows`` closed."""

    day: date
    windows: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the skipped date as the plan's JSON shape."""
        return {"date": self.day.isoformat(), "windows": list(self.windows)}


@dataclass(frozen=True)
class DeploymentPlan:
    """One deployment's policy (or conflict), transitions and usage over the plan's period."""

    deployment: Deployment
    policy: str | None
    conflict: tuple[str, ...]
    timezone: str
    transitions: tuple[Transition, ...]
    usage: Usage
    skipped_dates: tuple[SkippedDate, ...] = ()
    grace_until: datetime | None = None
    """A new deployment's grace period runs until then (it is left alone before)."""

    def to_json(self) -> dict[str, Any]:
        """Return the deployment's entry in the plan's JSON shape."""
        return {
            "deployment_id": str(self.deployment.deployment_id),
            "deployment_name": self.deployment.deployment_name,
            "accelerator_type": list(self.deployment.accelerator_type),
            "accelerator_count": self.deployment.accelerator_count,
            "policy": self.policy,
            "conflict": list(self.conflict),
            "transitions": [transition.to_json() for transition in self.transitions],
            "grace_until": iso_utc(self.grace_until) if self.grace_until is not None else None,
            "skipped_dates": [skipped.to_json() for skipped in self.skipped_dates],
            "gpu_hours": {"baseline": _round(self.usage.baseline_gpu_hours), "planned": _round(self.usage.planned_gpu_hours)},
            "cost": {"baseline": _round(self.usage.baseline_cost), "planned": _round(self.usage.planned_cost)},
        }


@dataclass(frozen=True)
class Plan:
    """The plan for ``[start, until)``: one entry per deployment, by name, and the totals."""

    start: datetime
    until: datetime
    deployments: tuple[DeploymentPlan, ...]
    skipped: tuple[Deployment, ...] = ()

    @property
    def total(self) -> Usage:
        """The usage of all deployments together (cost ``None`` if any price is unknown)."""
        total = Usage()
        for entry in self.deployments:
            total = total + entry.usage
        return total

    @property
    def savings_percent(self) -> float | None:
        """100 x (baseline - planned) / baseline, of cost when every cost is known, else of GPU-hours."""
        return savings_percent(self.total)

    def to_json(self) -> dict[str, Any]:
        """Return the plan as the JSON object ``scaler plan --output json`` prints."""
        total = self.total
        percent = self.savings_percent
        return {
            "from": iso_utc(self.start),
            "until": iso_utc(self.until),
            "deployments": [entry.to_json() for entry in self.deployments],
            "totals": {
                "gpu_hours": {"baseline": _round(total.baseline_gpu_hours), "planned": _round(total.planned_gpu_hours)},
                "cost": {"baseline": _round(total.baseline_cost), "planned": _round(total.planned_cost)},
                "savings_percent": None if percent is None else round(percent, 4),
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS) + 0.0


def build_plan(
    policy_set: PolicySet,
    deployments: Iterable[Deployment],
    start: datetime,
    until: datetime,
    *,
    new_since: Mapping[UUID, datetime] | None = None,
    default_grace: timedelta = timedelta(0),
) -> Plan:
    """Return the plan of ``deployments`` under ``policy_set`` from ``start`` to ``until``.

    The first transition of each deployment is at ``start``; each later one is an
    instant where the scheduled state changes (consecutive transitions never repeat a
    state; the source shown is the one that brought the state). A deployment in
    conflict has one ``unchanged`` transition with source ``none``. ``new_since``: the
    first sighting of each new deployment, left alone (source ``grace``) until its
    policy's ``grace_period`` (else ``default_grace``) has passed since. Raises
    ``ValueError`` when an instant is naive or ``until`` is not after ``start``.
    """
    start, until = require_aware(start, "start"), require_aware(until, "until")
    if until <= start:
        raise ValueError("the plan's end must be after its start")
    entries = []
    skipped = []
    timelines: dict[str, _Timeline] = {}
    for deployment in sorted(deployments, key=lambda item: (item.deployment_name, str(item.deployment_id))):
        if deployment.status in SKIPPED_STATUSES:
            skipped.append(deployment)
            continue
        entry = plan_deployment(policy_set, deployment, start, until, timelines)
        first_seen = (new_since or {}).get(deployment.deployment_id)
        if first_seen is not None:
            entry = _with_grace(policy_set, entry, timelines, first_seen, default_grace, start, until)
        entries.append(entry)
    return Plan(start, until, tuple(entries), tuple(skipped))


@dataclass(frozen=True)
class _Timeline:
    """A policy's plan over the period, shared by every deployment it governs."""

    transitions: tuple[Transition, ...]
    periods: tuple[tuple[DesiredState | None, datetime, datetime], ...]
    skipped_dates: tuple[SkippedDate, ...]


def _timeline(policy: Policy, start: datetime, until: datetime) -> _Timeline:
    transitions: list[Transition] = []
    periods = []
    for segment in policy.schedule.segments(start, until):
        periods.append((segment.state, segment.start, segment.end))
        if not transitions or transitions[-1].state != segment.state:
            transitions.append(Transition(segment.start, segment.state, segment.source))
    skipped = tuple(SkippedDate(day, windows) for day, windows in skipped_openings(policy, start, until))
    return _Timeline(tuple(transitions), tuple(periods), skipped)


def plan_deployment(
    policy_set: PolicySet,
    deployment: Deployment,
    start: datetime,
    until: datetime,
    timelines: dict[str, _Timeline] | None = None,
) -> DeploymentPlan:
    """Return one deployment's plan entry (see :func:`build_plan`); ``timelines`` memoises per policy."""
    matched = match_policies(policy_set, deployment)
    policy = matched.policy
    baseline = baseline_replicas(policy)
    pricing = policy_set.pricing
    if policy is None:
        usage = usage_between(deployment, None, baseline, start, until, pricing)
        return DeploymentPlan(
            deployment, None, matched.conflict, "UTC", (Transition(start, None, "none"),), usage
        )
    timelines = {} if timelines is None else timelines
    timeline = timelines.get(policy.name)
    if timeline is None:
        timeline = timelines[policy.name] = _timeline(policy, start, until)
    usage = Usage()
    for state, opened, closed in timeline.periods:
        usage = usage + usage_between(deployment, state, baseline, opened, closed, pricing)
    return DeploymentPlan(
        deployment, policy.name, (), policy.timezone, timeline.transitions, usage, timeline.skipped_dates
    )


def _with_grace(
    policy_set: PolicySet,
    entry: DeploymentPlan,
    timelines: dict[str, _Timeline],
    first_seen: datetime,
    default_grace: timedelta,
    start: datetime,
    until: datetime,
) -> DeploymentPlan:
    """``entry`` of a new deployment first seen at ``first_seen``: left alone until its grace period ends."""
    if entry.policy is None:
        return entry
    policy = policy_set.policy(entry.policy)
    grace_until = grace_ends_at(policy, first_seen, new=True, default=default_grace) if policy else None
    if grace_until is None or grace_until <= start:
        return entry
    timeline = timelines[entry.policy]
    transitions = [Transition(start, None, "grace")]
    if grace_until < until:
        in_force = [transition for transition in timeline.transitions if transition.at <= grace_until][-1]
        transitions.append(Transition(grace_until, in_force.state, in_force.source))
        transitions.extend(transition for transition in timeline.transitions if transition.at > grace_until)
    baseline = baseline_replicas(policy)
    usage = Usage()
    for state, opened, closed in timeline.periods:
        cut = min(max(grace_until, opened), closed)
        if opened < cut:
            usage = usage + usage_between(entry.deployment, None, baseline, opened, cut, policy_set.pricing)
        if cut < closed:
            usage = usage + usage_between(entry.deployment, state, baseline, cut, closed, policy_set.pricing)
    return replace(entry, transitions=tuple(transitions), usage=usage, grace_until=grace_until)
