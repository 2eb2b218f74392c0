"""Building the forecast (:class:`~scaler.policy.forecast.Forecast`): every deployment's predicted
transitions and savings over a period.

``build_plan`` runs the schedule engine over ``[start, until)`` for each deployment
(health rules are not predicted) and adds up GPU-hours and cost with and without the
scaler. ``Forecast.to_json()`` gives the object ``scaler plan --output json`` prints.
Deployments are in name order (then id). Deployments that are FAILED, DELETING or
DELETED are left out (the scaler never acts on them and they run no GPUs); they are
listed in ``Forecast.skipped``. The dates on which a skip date, a holiday or a calendar event
keeps a recurring window closed are listed with each deployment (``skipped_dates``), by name.
A new deployment (given with its first sighting, see :func:`build_plan`) is left alone
until its grace period ends (source ``grace``, ``grace_until``). People's exceptions in force
over the period (:class:`ExceptionSpan`, given by deployment) are laid over the schedule: a
suspension leaves the deployment alone (source ``suspended:<id>``), an override sets its state
(source ``override:<id>``); each is listed with the deployment (``exceptions``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from scaler.policy.forecast import DeploymentPlan, ExceptionSpan, Forecast, SkippedDate, Transition
from scaler.policy.leadtime import lead_times_in_use
from scaler.policy.matching import match_policies
from scaler.policy.model import DesiredState, Policy
from scaler.policy.policy_set import PolicySet
from scaler.policy.resolve import grace_ends_at
from scaler.policy.savings_rules import Usage, baseline_replicas, usage_between
from scaler.policy.schedule import schedule_of, skipped_openings
from scaler.policy.zones import require_aware
from scaler.simplismart.models import Deployment, DeploymentStatus

#: Statuses a plan leaves out: the scaler never acts on them.
SKIPPED_STATUSES = frozenset({DeploymentStatus.FAILED, DeploymentStatus.DELETING, DeploymentStatus.DELETED})


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
) -> Forecast:
    """Return the forecast of ``deployments`` under ``policy_set`` from ``start`` to ``until``.

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
    return Forecast(start, until, tuple(entries), tuple(skipped))


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
    wanted_up = [t.at for t in entry.transitions if t.state is not None and t.state.kind != "stopped"]
    entry = replace(entry, baseless_until=wanted_up[0] if wanted_up else until)  # left alone, it stays stopped
    ends = [transition.at for transition in entry.transitions[1:]] + [until]
    usage = Usage()
    for transition, end in zip(entry.transitions, ends, strict=True):
        stretch_baseline = entry.baseline_at(transition.at, baseline)
        usage = usage + usage_between(
            entry.deployment, transition.state, stretch_baseline, transition.at, end, policy_set.pricing
        )
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
