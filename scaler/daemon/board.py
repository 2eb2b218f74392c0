"""What the world sees of the daemon's cycles: each deployment's ``/status`` view, the next changes and
backoffs (hence the next wake-up), the gauges, the realized savings, the notices said once, and the
last cycle's summary.

The reconciler hands the board what a cycle considered and did (:meth:`Board.publish`); the
board keeps nothing the next cycle decides with, except the instants of the next changes and
backoff ends that say which deployments are due (:meth:`Board.due`, :meth:`Board.next_wakeup`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

import structlog

from scaler.daemon.clock import iso
from scaler.daemon.decide import Decision
from scaler.daemon.exception_gauges import ExceptionGauges
from scaler.daemon.exceptions_in_force import in_force
from scaler.daemon.gauges import DeploymentGauges
from scaler.daemon.inventory import Inventory
from scaler.daemon.journal import ActionReport
from scaler.daemon.memory import AfterCycle, Memory
from scaler.daemon.notices import ConflictNotices, PolicyCoverage
from scaler.daemon.resolver import Resolver
from scaler.daemon.realized_savings import (
    RunningGpus,
    SavingsMeter,
    running_gpus,
    state_in_effect,
    state_saving,
)
from scaler.daemon.status import DeploymentView
from scaler.metrics import Metrics
from scaler.policy import PolicySet, Resolution, baseline_replicas
from scaler.simplismart.models import Deployment, Pods
from scaler.store import HealthTrack, Saved

log = structlog.get_logger()


@dataclass
class CycleSummary:
    """What one cycle did."""

    reason: str
    at: datetime
    considered: int = 0
    reports: list[ActionReport] = field(default_factory=list)
    error: str | None = None
    acting: bool = True
    """Whether this instance could act in the cycle (false on a standby: nothing was sent)."""

    @property
    def failed_actions(self) -> list[ActionReport]:
        """Actions that failed, or were blocked by the platform's state (the token, the wallet)."""
        return [
            report
            for report in self.reports
            if report.result == "error" or (report.result == "blocked" and not report.by_configuration)
        ]

    @property
    def ok(self) -> bool:
        """Whether the cycle ran and every intended action succeeded, was deferred or is a dry run.

        A deletion blocked because ``SCALER_ALLOW_DELETE`` is false is the operator's choice, not a failure.
        """
        return self.error is None and not self.failed_actions


@dataclass(frozen=True)
class Considered:
    """One deployment in one cycle: the engine's answer and the decision."""

    resolution: Resolution
    decision: Decision


@dataclass(frozen=True)
class Published:
    """What a cycle hands the board: what it considered, what is remembered after it, what it reported."""

    policy_set: PolicySet
    memory: Memory
    after: AfterCycle
    considered: Mapping[UUID, Considered]
    reports: list[ActionReport]
    now: datetime


class Board:
    """What the world sees (see the module's docstring)."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        inventory: Inventory,
        resolver: Resolver,
        pods: Mapping[UUID, Pods],
        policies: Callable[[], PolicySet | None],
        waiting_since: Callable[[UUID], datetime | None],
    ) -> None:
        """``pods``: the pods last polled, by deployment; ``policies``: the policy set in force;
        ``waiting_since``: when a deployment's waiting plan was first decided."""
        self._metrics = metrics
        self._inventory = inventory
        self._resolver = resolver
        self._pods = pods
        self._policies = policies
        self._waiting_since = waiting_since
        self.views: dict[UUID, DeploymentView] = {}
        self.next_changes: dict[UUID, datetime] = {}
        self.backoff_until: dict[UUID, datetime] = {}
        self.last_summary: CycleSummary | None = None
        self.last_success_at: datetime | None = None
        self.last_full_at: datetime | None = None
        """When the last cycle over every deployment ran."""
        self._gauges = DeploymentGauges(metrics)
        self._exception_gauges = ExceptionGauges(metrics)
        self._savings = SavingsMeter(self._gauges)
        self._running_gpus = RunningGpus(self._gauges, metrics)
        self._in_grace: dict[UUID, datetime] = {}
        """The deployments in their grace period at their last cycle, and when it ends."""
        self._coverage = PolicyCoverage(metrics)
        self._conflicts = ConflictNotices()
        self._conflicted: set[UUID] = set()
        self._retained_revision: int | None = None
        """The inventory's revision at the last :meth:`retain_listed`."""
        """The deployments whose view shows a policy conflict (counted into ``scaler_policy_conflicts``)."""

    # --- What is due ------------------------------------------------------------------

    def due(self, now: datetime, probe: datetime | None) -> set[UUID] | None:
        """The deployments whose answer may have changed by ``now`` (``None``: all of them, when the
        ``probe`` of the wallet or the organization id fell due since the last cycle over every deployment)."""
        if probe is not None and probe <= now and (self.last_full_at is None or probe > self.last_full_at):
            return None
        due = {deployment_id for deployment_id, at in self.next_changes.items() if at <= now}
        due |= {deployment_id for deployment_id, at in self.backoff_until.items() if at <= now}
        return due & self._inventory.deployments.keys()

    def next_wakeup(self, now: datetime, probe: datetime | None) -> datetime | None:
        """The next instant after ``now`` at which some deployment's answer changes, a backoff ends or the
        ``probe`` of the wallet or the organization id is due (the token probe has a job of its own)."""
        candidates = [at for at in self.next_changes.values() if at > now]
        candidates += [at for at in self.backoff_until.values() if at > now]
        if probe is not None and probe > now:
            candidates.append(probe)
        return min(candidates) if candidates else None

    def cycle_ended(self, summary: CycleSummary, *, full: bool) -> None:
        """Keep the summary of the cycle just run (``full``: it considered every deployment)."""
        if summary.error is None:
            self.last_success_at = summary.at
            if full:
                self.last_full_at = summary.at
        self.last_summary = summary

    # --- Keeping up with the inventory ---------------------------------------------------

    def retain_listed(self) -> None:
        """Show only the deployments of the last list; nothing to do when they are those of the last call
        (what is shown is only ever added for listed deployments)."""
        revision = self._inventory.revision
        if revision != self._retained_revision:
            self.retain(self._inventory.deployments.keys())
            self._retained_revision = revision

    def retain(self, deployment_ids: Collection[UUID]) -> None:
        """Show only ``deployment_ids`` (those just listed, or left after some are gone)."""
        self._gauges.retain(deployment_ids)
        self._exception_gauges.retain(deployment_ids)
        self._savings.retain(deployment_ids)
        for deployment_id in [key for key in self.views if key not in deployment_ids]:
            del self.views[deployment_id]
            self._conflicted.discard(deployment_id)
            self.next_changes.pop(deployment_id, None)

    def forget(self, deployment_id: UUID) -> None:
        """Forget a deployment the platform no longer has."""
        self.views.pop(deployment_id, None)
        self._conflicted.discard(deployment_id)
        self.next_changes.pop(deployment_id, None)
        self.backoff_until.pop(deployment_id, None)

    def publish_health(self, deployment: Deployment, track: HealthTrack, pods: Pods | None) -> None:
        """Show the health just observed."""
        self._gauges.publish_health(deployment, track.value, pods)
        view = self.views.get(deployment.deployment_id)
        if view is not None:
            view.health, view.pods = track, pods

    def settle_savings(self, observed: datetime, *, count: bool) -> dict[tuple[UUID, date], Saved]:
        """Count the savings up to ``observed`` (``count`` false: let the time pass uncounted); return them
        by deployment and UTC day (:meth:`SavingsMeter.settle`)."""
        return self._savings.settle(observed, count=count)

    def deployment_failed(self, deployment: Deployment, error: Exception, now: datetime) -> None:
        """Say that the cycle could not consider ``deployment`` (a log line, a count, its view)."""
        self._metrics.reconcile_errors.inc()
        log.error(
            "deployment_failed",
            deployment=deployment.deployment_name,
            deployment_id=str(deployment.deployment_id),
            error=repr(error),
            exc_info=error,
        )
        view = self.views.get(deployment.deployment_id) or DeploymentView(deployment=deployment)
        view.error = f"{type(error).__name__}: {error}"
        view.considered_at = now
        self.views[deployment.deployment_id] = view

    # --- After a cycle ------------------------------------------------------------------

    def publish(self, cycle: Published) -> None:
        """Update the views, gauges, savings and next changes of the deployments the cycle considered."""
        backoffs = cycle.after.backoffs.items()
        self.backoff_until = {key: backoff.until for key, backoff in backoffs if backoff.until > cycle.now}
        last_actions: dict[UUID, ActionReport] = {}
        last_waiting: dict[UUID, ActionReport] = {}
        for report in cycle.reports:
            last_actions[report.deployment_id] = report
            if report.result in ("deferred", "blocked"):
                last_waiting[report.deployment_id] = report
        for deployment_id, considered in cycle.considered.items():
            deployment = self._inventory.deployments.get(deployment_id)
            if deployment is None:
                continue
            view = self._view(cycle, deployment, considered)
            if deployment_id in last_actions:
                view.last_action = last_actions[deployment_id]
            waiting = last_waiting.get(deployment_id)
            since = self._waiting_since(deployment_id)
            view.waiting = (waiting.result, since or cycle.now) if waiting is not None else None
            self._publish_one(cycle, view)
        self._exception_gauges.count(cycle.memory.exceptions, cycle.now)
        self._metrics.policy_conflicts.set(len(self._conflicted))
        self._running_gpus.publish(self._inventory.deployments, cycle.after.stored_applied, self._baseline_of)

    def _view(self, cycle: Published, deployment: Deployment, considered: Considered) -> DeploymentView:
        """The deployment's view as the cycle leaves it (its last action and waiting plan apart)."""
        deployment_id = deployment.deployment_id
        resolution = considered.resolution
        policy = cycle.policy_set.policy(resolution.policy) if resolution.policy else None
        view = self.views.get(deployment_id) or DeploymentView(deployment=deployment)
        view.deployment = deployment
        view.resolution = resolution
        view.decision = considered.decision
        view.applied = cycle.after.applied.get(deployment_id)
        view.health = cycle.memory.tracks.get(deployment_id, view.health)
        view.pods = self._pods.get(deployment_id, view.pods)
        view.exceptions = in_force(cycle.memory.exceptions, deployment_id, resolution.policy, cycle.now)
        view.suspension = view.exceptions.suspension_view(deployment_id, deployment.deployment_name)
        view.backoff = cycle.after.backoffs.get(deployment_id)
        view.first_seen = self._inventory.first_seen.get(deployment_id)
        view.baseline = baseline_replicas(policy)
        view.error = None
        view.considered_at = cycle.now
        view.next_change = resolution.next_change
        view.next_state = None
        view.next_state_known = False
        return view

    def _publish_one(self, cycle: Published, view: DeploymentView) -> None:
        """Keep ``view`` and update the deployment's next change, notices, gauges and savings."""
        deployment, resolution = view.deployment, view.resolution
        assert resolution is not None
        deployment_id = deployment.deployment_id
        if resolution.next_change is not None:
            self.next_changes[deployment_id] = resolution.next_change
        else:
            self.next_changes.pop(deployment_id, None)
        self._note_grace(deployment, resolution)
        self._conflicts.observe(deployment, resolution.conflict)
        self.views[deployment_id] = view
        if resolution.conflict:
            self._conflicted.add(deployment_id)
        else:
            self._conflicted.discard(deployment_id)
        self._gauges.publish(
            deployment,
            policy=resolution.policy,
            desired=resolution.desired,
            next_change=resolution.next_change,
            suspended=resolution.suspended,
        )
        self._exception_gauges.publish(deployment, resolution.source.startswith("override:"))
        self._gauges.publish_health(deployment, view.health.value if view.health else None, view.pods)
        self._savings.hold(
            deployment,
            state_saving(cycle.after.stored_applied.get(deployment_id), deployment.status, resolution.desired),
            baseline=view.baseline,
            pricing=cycle.policy_set.pricing,
            now=cycle.now,
        )

    def observe_coverage(self, policy_set: PolicySet) -> None:
        """After a cycle over every deployment: say which policies match nothing, forget settled conflicts."""
        inventory = self._inventory
        self._coverage.observe(policy_set, list(inventory.deployments.values()), inventory.listed_at)
        self._conflicts.retain(inventory.deployments.keys())

    def _note_grace(self, deployment: Deployment, resolution: Resolution) -> None:
        """Log once when a new deployment's grace period is seen running, and once when it has ended."""
        deployment_id = deployment.deployment_id
        if resolution.grace_until is not None:
            if deployment_id not in self._in_grace:
                log.info(
                    "grace_period_started",
                    deployment=deployment.deployment_name,
                    deployment_id=str(deployment_id),
                    policy=resolution.policy,
                    source=resolution.source,
                    first_seen=iso(self._inventory.first_seen.get(deployment_id)),
                    grace_until=iso(resolution.grace_until),
                    effect="a new deployment: left alone until the grace period ends, then its desired state is applied once",
                )
            self._in_grace[deployment_id] = resolution.grace_until
        elif self._in_grace.pop(deployment_id, None) is not None:
            log.info(
                "grace_period_ended",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                policy=resolution.policy,
                source=resolution.source,
                desired=resolution.desired.describe() if resolution.desired is not None else None,
            )

    # --- Read on demand -------------------------------------------------------------------

    def next_state(self, view: DeploymentView) -> Resolution | None:
        """The engine's answer at the view's next change, with the memory of its last cycle (for /status).

        Computed on demand and kept until the next cycle considers the deployment; ``None``
        when there is no next change or the engine cannot answer.
        """
        if view.next_state_known:
            return view.next_state
        policy_set = self._policies()
        if view.next_change is None or view.resolution is None or policy_set is None:
            return None
        try:
            view.next_state = self._resolver.ask(
                policy_set,
                view.deployment,
                at=view.next_change,
                track=view.health,
                exceptions=view.exceptions,
                rules=view.resolution.memory,
            )
        except Exception as error:  # /status must not fail because of one deployment
            log.warning("next_state_unavailable", deployment_id=str(view.deployment.deployment_id), error=repr(error))
            view.next_state = None
        view.next_state_known = True
        return view.next_state

    def running_gpus(self) -> dict[str, int]:
        """GPUs held now by accelerator, from the last cycle's views (as ``scaler_running_gpus``)."""
        return running_gpus(
            (view.deployment, state_in_effect(view.applied, view.deployment.status), view.baseline)
            for view in self.views.values()
        )

    def _baseline_of(self, deployment_id: UUID) -> int:
        view = self.views.get(deployment_id)
        return view.baseline if view is not None else 1

