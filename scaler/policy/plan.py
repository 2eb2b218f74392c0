"""The plan: every deployment's predicted transitions and savings over a period.

``build_plan`` runs the schedule engine over ``[start, until)`` for each deployment
(health rules are not predicted) and adds up GPU-hours and cost with and without the
scaler. ``Plan.to_json()`` gives the object ``scaler plan --output json`` prints.
Deployments are in name order (then id). Deployments that are FAILED, DELETING or
DELETED are left out (the scaler never acts on them and they run no GPUs); they are
listed in ``Plan.skipped``. The dates on which a skip date, a holiday or a calendar event
keeps a recurring window closed are listed with each deployment (``skipped_dates``), by name.
A new deployment (given with its first sighting, see :func:`build_plan`) is left alone
until its grace period ends (source ``grace``, ``grace_until``). People's exceptions in force
over the period (:class:`ExceptionSpan`, given by deployment) are laid over the schedule: a
suspension leaves the deployment alone (source ``suspended:<id>``), an override sets its state
(source ``override:<id>``); each is listed with the deployment (``exceptions``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

from scaler.policy.leadtime import LeadTimeInUse, lead_times_in_use
from scaler.policy.matching import match_policies
from scaler.policy.model import DesiredState, Policy
from scaler.policy.policy_set import PolicySet
from scaler.policy.resolve import grace_ends_at
from scaler.policy.savings import Usage, baseline_replicas, savings_percent, usage_between
from scaler.policy.schedule import schedule_of, skipped_openings
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
    """A local date on which the recurring ``windows`` stay closed, and why (``names``: ``skip date``,
    holiday names such as ``Christmas Day (US)``, calendar events' summaries)."""

    day: date
    windows: tuple[str, ...]
    names: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the skipped date as the plan's JSON shape."""
        return {"date": self.day.isoformat(), "windows": list(self.windows), "names": list(self.names)}


@dataclass(frozen=True)
class ExceptionSpan:
    """A person's exception covering a deployment from ``start`` to ``end``: a suspension
    (``state`` ``None``: left alone) or an override to ``state``; ``by`` made it because of ``reason``."""

    id: str
    kind: str
    state: DesiredState | None
    start: datetime
    end: datetime
    by: str
    reason: str

    @property
    def source(self) -> str:
        """The source a transition it brings names: ``override:<id>`` or ``suspended:<id>``."""
        return f"{'override' if self.kind == 'override' else 'suspended'}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        """Return the exception as the plan's JSON shape."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state.describe() if self.state is not None else None,
            "from": iso_utc(self.start),
            "until": iso_utc(self.end),
            "by": self.by,
            "reason": self.reason,
        }


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
    lead_times: Mapping[str, LeadTimeInUse] = field(default_factory=dict)
    """The lead time in use of each window with ``lead_time: auto``, by window name."""
    exceptions: tuple[ExceptionSpan, ...] = ()
    """People's exceptions covering the deployment during the period, the deciding one first."""

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
            "lead_times": {name: in_use.to_json() for name, in_use in self.lead_times.items()},
            "exceptions": [exception.to_json() for exception in self.exceptions],
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
    startups: Mapping[UUID, Sequence[float]] | None = None,
    exceptions: Mapping[UUID, Sequence[ExceptionSpan]] | None = None,
    touched: Collection[UUID] | None = None,
) -> Plan:
    """Return the plan of ``deployments`` under ``policy_set`` from ``start`` to ``until``.

    The first transition of each deployment is at ``start``; each later one is an
    instant where the scheduled state changes (consecutive transitions never repeat a
    state; the source shown is the one that brought the state). A deployment in
    conflict has one ``unchanged`` transition with source ``none``. ``new_since``: the
    first sighting of each new deployment, left alone (source ``grace``) until its
    policy's ``grace_period`` (else ``default_grace``) has passed since. ``startups`` are
    the start-up times the daemon observed, by deployment, for windows with ``lead_time:
    auto`` (none: their initial lead time). ``exceptions``: the exceptions covering each
    deployment, in precedence order (suspensions first, then the winning override first):
    at each instant the first one in force decides, over the schedule and the grace period.
    ``touched``: the deployments whose state the scaler has established (an applied state in
    its store); ``None``: none yet. A deployment listed SCALED_DOWN that the scaler has not
    touched saves nothing of the scaler's while the plan keeps it stopped: without the
    scaler it would be stopped too, so until the plan first wants it up its baseline is
    nothing (the savings rule of the daemon's counters).
    Raises ``ValueError`` when an instant is naive or ``until`` is not after ``start``.
    """
    start, until = require_aware(start, "start"), require_aware(until, "until")
    if until <= start:
        raise ValueError("the plan's end must be after its start")
    entries = []
    skipped = []
    timelines: dict[object, _Timeline] = {}
    for deployment in sorted(deployments, key=lambda item: (item.deployment_name, str(item.deployment_id))):
        if deployment.status in SKIPPED_STATUSES:
            skipped.append(deployment)
            continue
        observed = (startups or {}).get(deployment.deployment_id, ())
        entry = plan_deployment(policy_set, deployment, start, until, timelines, startups=observed)
        first_seen = (new_since or {}).get(deployment.deployment_id)
        if first_seen is not None:
            entry = _with_grace(policy_set, entry, timelines, first_seen, default_grace, start, until)
        covering = (exceptions or {}).get(deployment.deployment_id)
        if covering:
            entry = _with_exceptions(policy_set, entry, covering, start, until)
        if deployment.status is DeploymentStatus.SCALED_DOWN and deployment.deployment_id not in (touched or ()):
            entry = _found_stopped(policy_set, entry, until)
        entries.append(entry)
    return Plan(start, until, tuple(entries), tuple(skipped))


@dataclass(frozen=True)
class _Timeline:
    """A policy's plan over the period, shared by every deployment it governs."""

    transitions: tuple[Transition, ...]
    periods: tuple[tuple[DesiredState | None, datetime, datetime], ...]
    skipped_dates: tuple[SkippedDate, ...]


def _timeline(policy: Policy, start: datetime, until: datetime, leads: Mapping[str, timedelta]) -> _Timeline:
    transitions: list[Transition] = []
    periods = []
    for segment in schedule_of(policy, leads).segments(start, until):
        periods.append((segment.state, segment.start, segment.end))
        if not transitions or transitions[-1].state != segment.state:
            transitions.append(Transition(segment.start, segment.state, segment.source))
    skipped = tuple(
        SkippedDate(day, windows, policy.skip.names(day)) for day, windows in skipped_openings(policy, start, until)
    )
    return _Timeline(tuple(transitions), tuple(periods), skipped)


def plan_deployment(
    policy_set: PolicySet,
    deployment: Deployment,
    start: datetime,
    until: datetime,
    timelines: dict[object, _Timeline] | None = None,
    *,
    startups: Sequence[float] = (),
) -> DeploymentPlan:
    """Return one deployment's plan entry (see :func:`build_plan`); ``timelines`` memoises per policy and
    lead times; ``startups`` are the deployment's observed start-up times in seconds."""
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
    lead_times = lead_times_in_use(policy, startups)
    leads = {name: in_use.value for name, in_use in lead_times.items()}
    key = _timeline_key(policy.name, leads)
    timeline = timelines.get(key)
    if timeline is None:
        timeline = timelines[key] = _timeline(policy, start, until, leads)
    usage = Usage()
    for state, opened, closed in timeline.periods:
        usage = usage + usage_between(deployment, state, baseline, opened, closed, pricing)
    return DeploymentPlan(
        deployment,
        policy.name,
        (),
        policy.timezone,
        timeline.transitions,
        usage,
        timeline.skipped_dates,
        lead_times=lead_times,
    )


def _timeline_key(policy: str, leads: Mapping[str, timedelta]) -> tuple[object, ...]:
    """A timeline is shared by the deployments of one policy with the same lead times."""
    return (policy, tuple(sorted(leads.items())))


def _with_grace(
    policy_set: PolicySet,
    entry: DeploymentPlan,
    timelines: dict[object, _Timeline],
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
    timeline = timelines[_timeline_key(entry.policy, {name: lead.value for name, lead in entry.lead_times.items()})]
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


def _found_stopped(policy_set: PolicySet, entry: DeploymentPlan, until: datetime) -> DeploymentPlan:
    """``entry`` of a deployment found stopped and never touched: no baseline (so no saving) while the
    plan keeps it stopped or leaves it alone, until it first wants it up; the scaler's own stops
    count from then on."""
    policy = policy_set.policy(entry.policy) if entry.policy else None
    baseline = baseline_replicas(policy)
    ends = [transition.at for transition in entry.transitions[1:]] + [until]
    usage, found = Usage(), True
    for transition, end in zip(entry.transitions, ends, strict=True):
        state = transition.state
        found = found and (state is None or state.kind == "stopped")  # left alone, it stays stopped
        stretch_baseline = 0 if found else baseline
        usage = usage + usage_between(entry.deployment, state, stretch_baseline, transition.at, end, policy_set.pricing)
    return replace(entry, usage=usage)


def _with_exceptions(
    policy_set: PolicySet, entry: DeploymentPlan, spans: Sequence[ExceptionSpan], start: datetime, until: datetime
) -> DeploymentPlan:
    """``entry`` with the exceptions of ``spans`` (precedence order) laid over its transitions.

    An override acts only on a governed deployment (as in the daemon); a suspension leaves any alone.
    """
    spans = [span for span in spans if span.start < until and span.end > start]
    if entry.policy is None:
        spans = [span for span in spans if span.kind != "override"]
    if not spans:
        return entry
    cuts = sorted(
        {start, until}
        | {transition.at for transition in entry.transitions}
        | {instant for span in spans for instant in (span.start, span.end) if start < instant < until}
    )
    transitions: list[Transition] = []
    periods: list[tuple[DesiredState | None, datetime, datetime]] = []
    for opened, closed in zip(cuts, cuts[1:]):
        scheduled = [transition for transition in entry.transitions if transition.at <= opened][-1]
        deciding = next((span for span in spans if span.start <= opened < span.end), None)
        piece = Transition(opened, deciding.state, deciding.source) if deciding else replace(scheduled, at=opened)
        periods.append((piece.state, opened, closed))
        if not transitions or (transitions[-1].state, transitions[-1].source) != (piece.state, piece.source):
            transitions.append(piece)
    policy = policy_set.policy(entry.policy) if entry.policy else None
    baseline = baseline_replicas(policy)
    usage = Usage()
    for state, opened, closed in periods:
        usage = usage + usage_between(entry.deployment, state, baseline, opened, closed, policy_set.pricing)
    return replace(entry, transitions=tuple(transitions), usage=usage, exceptions=tuple(spans))
