"""Learned lead times: start-ups observed, kept in the store, and each peak judged ready or late.

Only deployments governed by a policy with a ``lead_time: auto`` window are concerned.
A successful ``start`` (or an ``update_replicas`` that raises the replica floor from 0)
begins a start-up; while it runs the deployment is watched (its health polled every
health interval); the first ``Healthy`` answer with every pod ready ends it, and its
length is recorded in the store (the newest 20 per deployment) and in
``scaler_deployment_startup_seconds``. A stop before that, or six hours without a
Healthy answer, abandons it. A newly learned lead time takes over once it agrees with
the one in use about the present (a start-up observed inside a window's lead time never
closes that window again: the new lead time applies from the next opening). At each
nominal opening of a running window with an automatic lead time (the opening without its
lead, noticed at the first health poll at or after it), ``scaler_peak_starts_total``
counts whether the deployment was ``Healthy`` then (``ready``) or not (``late``). Only
the instance that may act observes and counts. A start-up in progress is lost with a
restart: the next one is measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from scaler.daemon.clock import iso
from scaler.daemon.execution import Execution
from scaler.metrics import Metrics
from scaler.policy import PolicySet, match_policies
from scaler.policy.leadtime import KEPT_STARTUPS, lead_times_in_use, learned_lead_times
from scaler.policy.model import Policy
from scaler.policy.schedule import schedule_of, window_intervals
from scaler.simplismart.models import Deployment, HealthStatus, Pods
from scaler.store import AppliedState, HealthTrack, Store

log = structlog.get_logger()

#: A start-up not seen Healthy within this long is abandoned (the deployment never came up).
ABANDON_AFTER = timedelta(hours=6)


def _auto_policy(policy_set: PolicySet, deployment: Deployment) -> Policy | None:
    policy = match_policies(policy_set, deployment).policy
    return policy if policy is not None and policy.has_auto_lead else None


def _all_ready(pods: Pods | None) -> bool:
    """Every pod ready (an answer without pods counts on its health alone)."""
    return pods is None or (pods.not_ready == 0 and pods.ready > 0)


class StartupLearner:
    """Start-ups in progress and observed, per deployment (see the module's docstring)."""

    def __init__(self, *, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self.startups: dict[UUID, list[float]] = {}
        """Each deployment's kept start-up times in seconds, oldest first."""
        self.started: dict[UUID, datetime] = {}
        """Start-ups in progress: when each began."""
        self._judged_until: datetime | None = None
        self._loaded = False
        self._committed: dict[UUID, tuple[Policy, Mapping[str, timedelta]]] = {}
        """The lead times in use for each deployment, and the policy they were learned for."""

    async def load_once(self) -> None:
        """Read the kept start-ups from the store, the first time only. Raises :class:`~scaler.store.StoreError`."""
        if not self._loaded:
            self.startups = await asyncio.to_thread(self._store.startups)
            self._loaded = True

    # --- What the engine and the surfaces read ---------------------------------------------

    def lead_times(self, policy_set: PolicySet, deployment: Deployment) -> Mapping[str, timedelta] | None:
        """The lead times in use for ``deployment``'s automatic windows by name (``None``: it has none)."""
        policy = _auto_policy(policy_set, deployment)
        if policy is None:
            return None
        committed = self._committed.get(deployment.deployment_id)
        if committed is None or committed[0] is not policy:  # first use, or a reloaded policy
            committed = (policy, learned_lead_times(policy, self.startups.get(deployment.deployment_id, ())))
            self._committed[deployment.deployment_id] = committed
        return committed[1]

    def refresh(self, policy_set: PolicySet, deployments: Mapping[UUID, Deployment], now: datetime) -> None:
        """Put newly learned lead times in use where they agree with those in use about ``now``
        (for the listed ``deployments`` with lead times in use only: the others have none to change)."""
        for deployment_id, committed in list(self._committed.items()):
            deployment = deployments.get(deployment_id)
            if deployment is None:
                continue
            policy = _auto_policy(policy_set, deployment)
            if policy is None or committed[0] is not policy:
                continue
            learned = learned_lead_times(policy, self.startups.get(deployment.deployment_id, ()))
            if learned == committed[1]:
                continue
            if schedule_of(policy, committed[1]).state_at(now).key == schedule_of(policy, learned).state_at(now).key:
                self._committed[deployment_id] = (policy, learned)

    def view(self, policy_set: PolicySet | None, deployment: Deployment) -> dict[str, object]:
        """Each automatic window's lead time in use and where it came from, for /status."""
        policy = _auto_policy(policy_set, deployment) if policy_set is not None else None
        if policy is None or policy_set is None:
            return {}
        in_use = self.lead_times(policy_set, deployment) or {}
        learned = lead_times_in_use(policy, self.startups.get(deployment.deployment_id, ()))
        shown = {}
        for name, lead in learned.items():
            entry = lead.to_json()
            if in_use.get(name, lead.value) != lead.value:
                entry = {
                    "seconds": int(in_use[name].total_seconds()),
                    "source": f"{lead.source}: {entry['seconds'] // 60}m from the next opening",
                }
            shown[name] = entry
        return shown

    def watching(self) -> set[UUID]:
        """The deployments whose start-up is in progress (their health is polled every interval)."""
        return set(self.started)

    # --- What the daemon observes ----------------------------------------------------------

    def note_actions(
        self,
        policy_set: PolicySet,
        inventory: Mapping[UUID, Deployment],
        before: Mapping[UUID, AppliedState],
        execution: Execution,
    ) -> None:
        """Begin a start-up for each successful start (or raise of the floor from 0), abandon one on a stop."""
        for report in execution.reports:
            if report.result != "success":
                continue
            deployment = inventory.get(report.deployment_id)
            if deployment is None or _auto_policy(policy_set, deployment) is None:
                continue
            action = report.action.split(" ", 1)[0]
            if action == "stop":
                self.started.pop(report.deployment_id, None)
            elif action == "start" or (
                action == "update_replicas" and _raises_floor_from_zero(before, execution, report.deployment_id)
            ):
                self.started.setdefault(report.deployment_id, report.at)

    async def observe(
        self, tracks: Mapping[UUID, HealthTrack], pods: Mapping[UUID, Pods | None], inventory: Mapping[UUID, Deployment]
    ) -> None:
        """End each start-up in progress whose deployment was just seen Healthy with every pod ready:
        record its length. Raises :class:`~scaler.store.StoreError` when it cannot be recorded."""
        for deployment_id, began in list(self.started.items()):
            track = tracks.get(deployment_id)
            if track is None:
                continue
            if track.last_observed - began > ABANDON_AFTER:
                self.started.pop(deployment_id, None)
                log.warning("startup_abandoned", deployment_id=str(deployment_id), started_at=iso(began))
                continue
            if track.value != HealthStatus.HEALTHY.value or not _all_ready(pods.get(deployment_id)):
                continue
            del self.started[deployment_id]
            seconds = max(0.0, (track.last_observed - began).total_seconds())
            self.startups[deployment_id] = await asyncio.to_thread(
                self._store.record_startup, deployment_id, track.last_observed, seconds, keep=KEPT_STARTUPS
            )
            deployment = inventory.get(deployment_id)
            accelerator = deployment.accelerator if deployment is not None else "unknown"
            self._metrics.deployment_startup.labels(accelerator=accelerator).observe(seconds)
            log.info(
                "startup_observed",
                deployment=deployment.deployment_name if deployment is not None else None,
                deployment_id=str(deployment_id),
                seconds=round(seconds, 1),
                started_at=iso(began),
            )

    def judge_openings(
        self,
        policy_set: PolicySet,
        deployments: Iterable[Deployment],
        health: Mapping[UUID, HealthTrack | None],
        now: datetime,
    ) -> None:
        """Count each nominal opening of a running automatic window since the last call as ready or late
        (``deployments``: those governed by a policy with such a window; any others are passed over)."""
        since, self._judged_until = self._judged_until, now
        if since is None or now <= since:
            return
        for deployment in deployments:
            policy = _auto_policy(policy_set, deployment)
            if policy is None:
                continue
            for window in policy.windows:
                if window.auto_lead is None or not window.state.is_running:
                    continue
                for opened, _ in window_intervals(policy, window, since, now + timedelta(microseconds=1), timedelta(0)):
                    if not since < opened <= now:
                        continue
                    track = health.get(deployment.deployment_id)
                    ready = (
                        deployment.deployment_id not in self.started
                        and track is not None
                        and track.value == HealthStatus.HEALTHY.value
                    )
                    result = "ready" if ready else "late"
                    self._metrics.peak_starts.labels(result=result).inc()
                    log.info(
                        "peak_start",
                        deployment=deployment.deployment_name,
                        deployment_id=str(deployment.deployment_id),
                        window=window.label,
                        opened_at=iso(opened),
                        result=result,
                    )

    def forget(self, deployment_ids: Iterable[UUID]) -> None:
        """Drop what is known about deployments that are gone."""
        for deployment_id in deployment_ids:
            self.startups.pop(deployment_id, None)
            self.started.pop(deployment_id, None)
            self._committed.pop(deployment_id, None)


def _raises_floor_from_zero(before: Mapping[UUID, AppliedState], execution: Execution, deployment_id: UUID) -> bool:
    """Whether the deployment's replica floor went from 0 (or stopped) to at least 1 in this execution."""
    previous, after = before.get(deployment_id), execution.applied.get(deployment_id)
    if after is None or after.kind != "bounds" or not after.min_replicas:
        return False
    if previous is None:
        return False
    return previous.kind == "stopped" or (previous.kind == "bounds" and previous.min_replicas == 0)
