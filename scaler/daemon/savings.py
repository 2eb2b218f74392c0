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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from scaler.daemon.decide import desired_of, same_state
from scaler.daemon.gauges import DeploymentGauges
from scaler.policy import DesiredState, replicas_under, usage_between
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


class SavingsMeter:
    """Counts each deployment's realized saving interval by interval."""

    def __init__(self, gauges: DeploymentGauges) -> None:
        self._gauges = gauges
        self._held: dict[UUID, _Held] = {}

    def settle(self, now: datetime, *, count: bool = True) -> dict[tuple[UUID, date], Saved]:
        """Count the saving of every tracked deployment from its last count to ``now``; return what was
        counted by (deployment, UTC day).

        With ``count`` false (a standby) the interval passes without being counted.
        """
        counted: dict[tuple[UUID, date], Saved] = {}
        for held in self._held.values():
            if now <= held.since:
                continue
            since, held.since = held.since, now
            if not count:
                continue
            for start, end in _by_utc_day(since, now):
                usage = usage_between(held.deployment, held.state, held.baseline, start, end, held.pricing)
                saved_hours = usage.saved_gpu_hours
                if saved_hours <= 0:
                    continue
                saved_cost = usage.saved_cost
                dollars = saved_cost if saved_cost is not None and saved_cost > 0 else None
                self._gauges.add_saving(held.deployment, gpu_seconds=saved_hours * 3600.0, dollars=dollars)
                key = (held.deployment.deployment_id, start.date())
                counted[key] = counted.get(key, Saved()) + Saved(saved_hours * 3600.0, dollars or 0.0)
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
        previous = self._held.get(deployment.deployment_id)
        since = previous.since if previous is not None and previous.since <= now else now
        self._held[deployment.deployment_id] = _Held(deployment, state, baseline, pricing, since)

    def retain(self, deployment_ids: Iterable[UUID]) -> None:
        """Stop tracking every deployment not in ``deployment_ids``."""
        keep = set(deployment_ids)
        for deployment_id in [key for key in self._held if key not in keep]:
            del self._held[deployment_id]


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
