"""Realized savings: GPU-seconds and dollars saved by what the scaler actually applied.

The engine's savings rules (:mod:`scaler.policy.savings_rules`) are applied to the state that
is really in effect, not to the desired one:

- The state in effect is what the scaler last applied, confirmed by the status the
  platform lists (stopped and SCALED_DOWN; bounds or running and DEPLOYED; bounds with a
  floor of 0 and SCALED_DOWN). When they disagree (a person changed it, or a call has
  not taken effect) nothing is in effect and nothing is saved. A dry run applies
  nothing, so it saves nothing.
- A saving is counted only while that state was established by a call of the scaler's
  and is still the desired state (:func:`state_saving`): a deployment already stopped
  when first seen and never touched saves nothing of the scaler's, and one held down
  because the wallet or a quota refuses its start saves nothing either.
- Every cycle, each deployment's saving up to the instant the platform was last
  observed (the list the cycle works from) is counted with the state in effect during
  that interval, into
  ``scaler_gpu_seconds_saved_total`` and ``scaler_cost_saved_dollars_total``
  (cost only when the accelerator has a price).
- A state above the baseline (a peak window) costs more than the baseline; counters
  cannot go down, so such an interval counts as saving nothing rather than a negative
  saving. Time the daemon was not running is not counted.
- Each settle also returns what it counted by (deployment, UTC day), an interval that
  crosses midnight split at it; the leader adds that to the store's measured savings in
  one write per cycle (:meth:`scaler.store.Store.add_savings`), which the console shows.
- Only the instance that may act counts: with several replicas the leader counts and the
  standbys let the time pass uncounted, so the counters summed over the replicas are the
  organization's saving, not a multiple of it.

``scaler_running_gpus{accelerator}`` is the GPUs DEPLOYED deployments hold: the replica
floor in effect (the baseline when no applied state is in effect) times the
accelerator count (:func:`gpus_held`); ``scaler_policy_running_gpus`` sums the same by
policy. Each saving is also counted into the per-policy counters
``scaler_policy_gpu_seconds_saved_total`` and ``scaler_policy_cost_saved_dollars_total``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from scaler.daemon.decide import desired_of, same_state
from scaler.daemon.gauges import DeploymentGauges
from scaler.metrics import DeploymentSeries, Metrics
from scaler.policy import DesiredState, price_per_gpu_hour, replicas_under, usage_between
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.store import AppliedState, Saved


def state_saving(
    applied: AppliedState | None, status: DeploymentStatus, desired: DesiredState | None
) -> DesiredState | None:
    """Return the state whose saving is counted now, or ``None`` (nothing is counted).

    That is the state in effect (:func:`state_in_effect`), when the scaler established it
    with a call of its own (a state only noted, such as a deployment already stopped when
    first seen, is not the scaler's saving: without the scaler it would be stopped too)
    and while it is still the desired state (a deployment kept down because the wallet
    or a quota refuses its start saves money by the platform's doing, not the scaler's).
    """
    if applied is None or applied.action_id is None or applied.remaining:
        return None
    if desired is None or not same_state(applied, desired):
        return None
    return state_in_effect(applied, status)


def state_in_effect(applied: AppliedState | None, status: DeploymentStatus) -> DesiredState | None:
    """Return the applied state when the listed status confirms it, else ``None`` (nothing in effect)."""
    if applied is None:
        return None
    state = desired_of(applied)
    if state.kind == "stopped":
        return state if status is DeploymentStatus.SCALED_DOWN else None
    if status is DeploymentStatus.DEPLOYED:
        return state
    if status is DeploymentStatus.SCALED_DOWN and state.kind == "bounds" and state.min_replicas == 0:
        return state
    return None


@dataclass
class _Held:
    deployment: Deployment
    state: DesiredState | None
    baseline: int
    pricing: Mapping[str, float]
    since: datetime
    """Counted up to here, or up to a later settle than the one numbered ``settles``."""
    settles: int
    """How many settles the meter had made when ``since`` was set."""
    order: int
    """When the deployment was first held: deployments are counted in this order."""

    series: DeploymentSeries | None = None
    """The series its savings were last counted into, for this very ``deployment``."""
    terms: tuple[int, int, int, float | None] = (0, 0, 0, None)
    """What an interval's saving depends on besides its length: replicas held, baseline, GPUs per
    replica, price per GPU-hour (set by :meth:`hold`)."""

    def hold(
        self, deployment: Deployment, state: DesiredState | None, baseline: int, pricing: Mapping[str, float]
    ) -> None:
        """Hold ``state`` against ``baseline`` from now on."""
        if self.deployment is not deployment:
            self.series = None
        self.deployment, self.state, self.baseline, self.pricing = deployment, state, baseline, pricing
        price = price_per_gpu_hour(deployment.accelerator, pricing)
        self.terms = (replicas_under(state, baseline), baseline, deployment.accelerator_count, price)

    @property
    def may_save(self) -> bool:
        """Whether holding the state can save anything (fewer replicas than the baseline)."""
        replicas, baseline, gpus, _ = self.terms
        return replicas < baseline and gpus > 0


class SavingsMeter:
    """Counts each deployment's realized saving interval by interval.

    A settle counts only the deployments whose state saves something (held below the
    baseline). The others have nothing to count: their intervals pass with the settles
    made since their last change, read back (:meth:`_since`) when their state changes.
    """

    def __init__(self, gauges: DeploymentGauges) -> None:
        self._gauges = gauges
        self._held: dict[UUID, _Held] = {}
        self._saving: dict[UUID, _Held] = {}
        """The held deployments that may save, in no particular order."""
        self._saving_in_order: list[_Held] | None = []
        """The same in the order they were first held (``None``: to be sorted again)."""
        self._settles = 0
        self._latest: list[tuple[int, datetime]] = []
        """(number, instant) of the settles no later settle reached: numbers up, instants down."""
        self._next_order = 0

    def settle(self, now: datetime, *, count: bool = True) -> dict[tuple[UUID, date], Saved]:
        """Count the saving of every tracked deployment from its last count to ``now``; return what was
        counted by (deployment, UTC day).

        With ``count`` false (a standby) the interval passes without being counted.
        """
        counted: dict[tuple[UUID, date], Saved] = {}
        pieces: dict[tuple[object, ...], list[_Piece]] = {}
        """What an interval saves, by its start and what the saving depends on: deployments held alike
        since the same settle (most of them) save the same, worked out once."""
        for held in self._in_order():
            since = held.since if held.settles >= self._settles else self._since(held)
            held.since, held.settles = max(since, now), self._settles + 1
            if now <= since or not count:
                continue
            key = (since, *held.terms)
            saved = pieces.get(key)
            if saved is None:
                saved = pieces[key] = _pieces(held, since, now)
            for day, gpu_seconds, dollars, saving in saved:
                held.series = self._gauges.add_saving(
                    held.deployment, gpu_seconds=gpu_seconds, dollars=dollars, known=held.series
                )
                counted_key = (held.deployment.deployment_id, day)
                before = counted.get(counted_key)
                counted[counted_key] = saving if before is None else before + saving
        while self._latest and self._latest[-1][1] <= now:
            self._latest.pop()
        self._latest.append((self._settles, now))
        self._settles += 1
        return counted

    def hold(
        self,
        deployment: Deployment,
        state: DesiredState | None,
        *,
        baseline: int,
        pricing: Mapping[str, float],
        now: datetime,
    ) -> None:
        """From ``now`` on, ``deployment`` holds ``state`` (``None``: nothing in effect) against ``baseline``."""
        deployment_id = deployment.deployment_id
        held = self._held.get(deployment_id)
        if held is None:
            held = self._held[deployment_id] = _Held(
                deployment, state, baseline, pricing, now, self._settles, self._next_order
            )
            self._next_order += 1
        else:
            since = self._since(held)
            held.since, held.settles = (since if since <= now else now), self._settles
        held.hold(deployment, state, baseline, pricing)
        if held.may_save:
            if deployment_id not in self._saving:
                self._saving[deployment_id] = held
                self._saving_in_order = None
        elif self._saving.pop(deployment_id, None) is not None:
            self._saving_in_order = None

    def retain(self, deployment_ids: Iterable[UUID]) -> None:
        """Stop tracking every deployment not in ``deployment_ids``."""
        keep = set(deployment_ids)
        for deployment_id in [key for key in self._held if key not in keep]:
            del self._held[deployment_id]
            if self._saving.pop(deployment_id, None) is not None:
                self._saving_in_order = None

    def _since(self, held: _Held) -> datetime:
        """Where ``held`` is counted up to: its own mark, or the latest settle made since it was set."""
        index = bisect_left(self._latest, held.settles, key=lambda entry: entry[0])
        if index < len(self._latest) and self._latest[index][1] > held.since:
            return self._latest[index][1]
        return held.since

    def _in_order(self) -> list[_Held]:
        if self._saving_in_order is None:
            self._saving_in_order = sorted(self._saving.values(), key=lambda held: held.order)
        return self._saving_in_order


class RunningGpus:
    """The GPUs each listed deployment holds (its gauge) and their totals by accelerator
    (``scaler_running_gpus``), worked out again only for the deployments whose listing,
    stored applied state or baseline changed since the last cycle."""

    def __init__(self, gauges: DeploymentGauges, metrics: Metrics) -> None:
        self._gauges = gauges
        self._metrics = metrics
        self._held: dict[UUID, tuple[Deployment, AppliedState | None, int, int]] = {}
        """Each deployment's GPUs held, with what they were worked out from."""
        self._totals: dict[str, int] = {}
        """GPUs held by accelerator (every accelerator seen stays, 0 when none is held)."""

    def publish(
        self,
        listed: Mapping[UUID, Deployment],
        applied: Mapping[UUID, AppliedState],
        baseline_of: Callable[[UUID], int],
    ) -> None:
        """Publish the GPUs of every ``listed`` deployment with its stored ``applied`` state and baseline."""
        held, totals = self._held, self._totals
        for deployment_id in held.keys() - listed.keys():
            deployment, _, _, gpus = held.pop(deployment_id)
            totals[deployment.accelerator] -= gpus
        for deployment_id, deployment in listed.items():
            state, baseline = applied.get(deployment_id), baseline_of(deployment_id)
            known = held.get(deployment_id)
            if known is not None and known[0] is deployment and known[1] is state and known[2] == baseline:
                continue
            gpus = gpus_held(deployment, state_in_effect(state, deployment.status), baseline)
            self._gauges.publish_running_gpus(deployment, gpus)
            if known is not None:
                totals[known[0].accelerator] -= known[3]
            totals[deployment.accelerator] = totals.get(deployment.accelerator, 0) + gpus
            held[deployment_id] = (deployment, state, baseline, gpus)
        for accelerator, total in totals.items():
            self._metrics.running_gpus.labels(accelerator=accelerator).set(total)


#: One UTC day's part of an interval's saving: the day, GPU-seconds, dollars (``None``: no price), as counted.
_Piece = tuple[date, float, "float | None", Saved]


def _pieces(held: _Held, since: datetime, until: datetime) -> list[_Piece]:
    """What ``held`` saves from ``since`` to ``until``, day by UTC day (the days saving nothing left out)."""
    pieces: list[_Piece] = []
    for start, end in _by_utc_day(since, until):
        usage = usage_between(held.deployment, held.state, held.baseline, start, end, held.pricing)
        saved_hours = usage.saved_gpu_hours
        if saved_hours <= 0:
            continue
        saved_cost = usage.saved_cost
        dollars = saved_cost if saved_cost is not None and saved_cost > 0 else None
        pieces.append((start.date(), saved_hours * 3600.0, dollars, Saved(saved_hours * 3600.0, dollars or 0.0)))
    return pieces


def _by_utc_day(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """``[since, until)`` cut at each UTC midnight it crosses (instants in UTC)."""
    pieces: list[tuple[datetime, datetime]] = []
    start, until = since.astimezone(UTC), until.astimezone(UTC)
    while start < until:
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        end = min(midnight, until)
        pieces.append((start, end))
        start = end
    return pieces


def running_gpus(entries: Iterable[tuple[Deployment, DesiredState | None, int]]) -> dict[str, int]:
    """Return the GPUs held per accelerator by (deployment, state in effect, baseline) entries.

    Every accelerator seen appears, with 0 when none of its deployments is DEPLOYED.
    """
    totals: dict[str, int] = {}
    for deployment, state, baseline in entries:
        totals[deployment.accelerator] = totals.get(deployment.accelerator, 0) + gpus_held(deployment, state, baseline)
    return totals


def gpus_held(deployment: Deployment, state: DesiredState | None, baseline: int) -> int:
    """Return the GPUs ``deployment`` holds with ``state`` in effect (its replica floor, else ``baseline``).

    0 unless it is DEPLOYED.
    """
    if deployment.status is not DeploymentStatus.DEPLOYED:
        return 0
    return replicas_under(state, baseline) * deployment.accelerator_count
