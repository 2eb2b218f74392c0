"""One reconcile cycle: inventory, resolution by the engine, decisions, bounded execution, memory, metrics.

A cycle runs at one instant ``now`` (read once from the clock by its caller):

1. **Inventory** (:meth:`Reconciler.fetch_inventory`, outside the cycle lock): list the
   deployments, note first sightings. While the platform refuses the token, only the
   probe lists (once a minute).
2. **Recovery**: the first cycle that may act settles actions a crash left pending
   (:mod:`scaler.daemon.recovery`).
3. **Resolve and decide**: for every deployment (or the subset a boundary or a health
   change concerns) the engine resolves the desired state from the policies, the
   tracked health, the rules' memory, people's exceptions in force (a suspension, an
   override: :mod:`scaler.daemon.exceptions_in_force`) and the first sighting;
   :func:`scaler.daemon.decide.decide` turns it into plans. One deployment failing does
   not stop the others. A plan a health rule asks for (a restart, a rule's state) waits
   while the deployment's health was last observed more than ``health_max_age`` ago:
   the platform's recent answers could not be read (or were not asked for, the
   platform being unreachable), and the last good one is not taken as still true.
4. **Execute** the plans through the :class:`~scaler.daemon.executor.Executor`, which
   re-checks the exceptions before each call (:mod:`scaler.daemon.exception_watch`): one
   written since the cycle read them that changes what decides a deployment stops that
   deployment's remaining calls.
5. **Remember**: the rules' memory (restarts included) is persisted and realized savings
   are counted, by the instance that may act only (a standby's copy could be stale);
   gauges and the ``/status`` views are updated; the next instant at which
   any answer changes (a boundary, a rule's timer, an exception's end, a backoff's end,
   a probe) is handed to the scheduler as the next wake-up.

Cycles serialize on :attr:`Reconciler.lock`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from scaler.daemon.clock import Clock, iso, unix_seconds
from scaler.daemon.decide import Decision, Plan, decide
from scaler.daemon.exception_gauges import ExceptionGauges
from scaler.daemon.exception_watch import PlanRecheck, Revision, RevisionReader
from scaler.daemon.exceptions_in_force import InForce, in_force
from scaler.daemon.executor import Execution, Executor, always
from scaler.daemon.journal import ActionReport
from scaler.daemon.gauges import DeploymentGauges
from scaler.daemon.health import HealthPoll, HealthPoller
from scaler.daemon.notices import ConflictNotices, PolicyCoverage, SkippedTransitions
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policies import PolicyKeeper
from scaler.daemon.recovery import recover_pending
from scaler.daemon.savings import SavingsMeter, gpus_held, running_gpus, state_in_effect, state_saving
from scaler.daemon.startups import StartupLearner
from scaler.daemon.status import DeploymentView
from scaler.metrics import Metrics
from scaler.policy import (
    HealthObservation,
    HealthRuleMemory,
    PolicySet,
    Resolution,
    baseline_replicas,
    match_policies,
    record_restart,
    resolve_desired_state,
)
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import AuthenticationError, SimplismartError
from scaler.simplismart.models import Deployment, DeploymentStatus, HealthStatus
from scaler.store import AppliedState, Backoff, ExceptionRecord, HealthTrack, Store, StoreError

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


@dataclass
class _Considered:
    """One deployment in one cycle: the engine's answer, the rules' memory it started from, the decision."""

    resolution: Resolution
    rules_before: dict[str, HealthRuleMemory]
    decision: Decision


@dataclass(frozen=True)
class _Memory:
    """What the store remembers, read once per cycle."""

    applied: dict[UUID, AppliedState]
    tracks: dict[UUID, HealthTrack]
    rules: dict[UUID, dict[tuple[str, str], Any]]
    exceptions: list[ExceptionRecord]
    backoffs: dict[UUID, Backoff]
    exceptions_revision: Revision


class Reconciler:
    """Runs cycles and keeps what the daemon knows between them (see the module's docstring)."""

    def __init__(
        self,
        *,
        client: SimplismartClient,
        store: Store,
        metrics: Metrics,
        clock: Clock,
        policies: PolicyKeeper,
        executor: Executor,
        organization: OrganizationState,
        health: HealthPoller,
        allow_delete: bool,
        may_act: Callable[[], bool] = always,
        health_max_age: timedelta = timedelta(seconds=60),
        new_deployment_grace: timedelta = timedelta(0),
    ) -> None:
        """``health_max_age``: how old the last health observation may be for a health rule to act on it;
        ``new_deployment_grace``: how long a new deployment is left alone unless its policy says otherwise."""
        self._client = client
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.policies = policies
        self.executor = executor
        self.organization = organization
        self.health = health
        self.allow_delete = allow_delete
        self.may_act = may_act
        self.lock = asyncio.Lock()
        self.inventory: dict[UUID, Deployment] = {}
        self.inventory_at: datetime | None = None
        self.api_reachable: bool | None = None
        self.list_error: SimplismartError | None = None
        """Why the last list of the deployments failed (``None`` after one that succeeded)."""
        self.first_seen: dict[UUID, datetime] = {}
        self.first_inventory_at: datetime | None = None
        """When the store recorded its first inventory: deployments first seen later are new."""
        self.new_deployment_grace = new_deployment_grace
        self._in_grace: dict[UUID, datetime] = {}
        """The deployments in their grace period at their last cycle, and when it ends."""
        self.views: dict[UUID, DeploymentView] = {}
        self.next_changes: dict[UUID, datetime] = {}
        self.backoff_until: dict[UUID, datetime] = {}
        self.last_summary: CycleSummary | None = None
        self.last_success_at: datetime | None = None
        self.last_full_at: datetime | None = None
        """When the last cycle over every deployment ran."""
        self.on_next_wakeup: Callable[[datetime | None], None] | None = None
        self.on_cycle: Callable[[CycleSummary], None] | None = None
        """Told every cycle's summary (the notices of failed actions read it)."""
        self.last_decided_at: datetime | None = None
        """The instant of the latest cycle's decisions: no cycle decides at an older one."""
        self.needs_recovery = True
        self._gauges = DeploymentGauges(metrics)
        self.exception_gauges = ExceptionGauges(metrics)
        self._exceptions_reader = RevisionReader(store)
        self._savings = SavingsMeter(self._gauges)
        self._suspended: set[UUID] = set()
        self._resuming: set[UUID] = set()
        self._dry_rules: dict[UUID, dict[tuple[str, str], Any]] = {}
        self._watched: set[UUID] = set()
        self._watched_key: tuple[object, ...] | None = None
        self._accelerators: set[str] = set()
        self._listed_since_cycle = False
        self._unknown_statuses: set[tuple[UUID, str]] = set()
        self._status_after_action: dict[UUID, tuple[datetime, DeploymentStatus]] = {}
        """The status each deployment's last successful action established, and when it was answered."""
        self.health_max_age = health_max_age
        self._health_held: set[UUID] = set()
        self._coverage = PolicyCoverage(metrics)
        self._conflicts = ConflictNotices()
        self._skipped = SkippedTransitions()
        self.startups = StartupLearner(store=store, metrics=metrics)

    # --- Inventory -----------------------------------------------------------------

    async def fetch_inventory(self, now: datetime) -> bool:
        """List the deployments at ``now`` and note first sightings; return whether the list succeeded.

        While the platform refuses the token only a due probe lists. Never raises for a
        platform or store failure: it is logged and counted, and the cached inventory stays.
        """
        if self.organization.api_paused and not self.organization.auth_probe_due(now):
            return False
        try:
            deployments = await self._client.list_deployments()
        except AuthenticationError as error:
            self.organization.auth_refused(now, error)
            self.api_reachable = True
            return False
        except SimplismartError as error:
            self.api_reachable = False
            self.list_error = error
            self._metrics.reconcile_errors.inc()
            log.warning(
                "inventory_failed",
                reason=error.reason,
                message=str(error),
                effect="nothing is reconciled until a list succeeds",
            )
            return False
        self.organization.auth_accepted(now)
        self.api_reachable = True
        self.list_error = None
        try:
            seen = await asyncio.to_thread(
                self._store.mark_seen, [(d.deployment_id, d.deployment_name) for d in deployments], now
            )
            if self.first_inventory_at is None:
                self.first_inventory_at = await asyncio.to_thread(self._store.first_inventory_at)
        except StoreError as error:
            self._store_failed("mark_seen", error)
            return False
        self.executor.store_ok = True
        self.first_seen.update(seen)
        self.inventory = self._not_older_than_actions(deployments, requested_at=now)
        self.inventory_at = now
        self._note_unknown_statuses(deployments)
        self._listed_since_cycle = True
        listed = self.inventory.keys()
        self._gauges.retain(listed)
        self.exception_gauges.retain(listed)
        self._savings.retain(listed)
        for deployment_id in [key for key in self.views if key not in listed]:
            del self.views[deployment_id]
            self.next_changes.pop(deployment_id, None)
        return True

    def _not_older_than_actions(self, deployments: Iterable[Deployment], *, requested_at: datetime) -> dict[UUID, Deployment]:
        """The listed deployments by id, each with the status its last successful action established
        when that action was answered after the list was requested (the list may predate it).

        A list answered late can show a deployment running that a boundary has stopped
        since: taken as the truth, it would be corrected as drift, and the stop sent twice.
        """
        inventory: dict[UUID, Deployment] = {}
        for deployment in deployments:
            deployment_id = deployment.deployment_id
            after_action = self._status_after_action.get(deployment_id)
            if after_action is not None and after_action[0] >= requested_at:
                deployment = _with_status(deployment, after_action[1])
            else:
                self._status_after_action.pop(deployment_id, None)
            inventory[deployment_id] = deployment
        return inventory

    def _note_unknown_statuses(self, deployments: Iterable[Deployment]) -> None:
        """Log once each deployment listed with a status this version does not know (it is left alone)."""
        unknown = {
            (deployment.deployment_id, deployment.status_raw): deployment
            for deployment in deployments
            if deployment.status is DeploymentStatus.UNKNOWN
        }
        for (deployment_id, raw), deployment in unknown.items():
            if (deployment_id, raw) not in self._unknown_statuses:
                log.warning(
                    "deployment_status_unknown",
                    deployment=deployment.deployment_name,
                    deployment_id=str(deployment_id),
                    status=raw,
                    effect="left alone until the platform reports a status the scaler knows",
                )
        self._unknown_statuses = set(unknown)

    def watched(self) -> set[UUID]:
        """The deployments governed by a policy with health rules, and those starting up for a learned
        lead time (their health is polled every interval).

        Computed once per inventory and policy set.
        """
        policy_set = self.policies.current
        if policy_set is None:
            return set()
        key = (self.inventory_at, policy_set.content_hash, len(self.inventory))
        if key != self._watched_key:
            self._watched = set()
            for deployment in self.inventory.values():
                policy = match_policies(policy_set, deployment).policy
                if policy is not None and policy.health:
                    self._watched.add(deployment.deployment_id)
            self._watched_key = key
        return self._watched | (self.startups.watching() & self.inventory.keys())

    async def absorb_health(self, poll: HealthPoll) -> None:
        """Publish the health just observed, and forget the deployments the platform answered 404 for."""
        for deployment_id, track in poll.tracks.items():
            deployment = self.inventory.get(deployment_id)
            if deployment is None:
                continue
            pods = self.health.pods.get(deployment_id)
            self._gauges.publish_health(deployment, track.value, pods)
            view = self.views.get(deployment_id)
            if view is not None:
                view.health, view.pods = track, pods
        policy_set = self.policies.current
        if policy_set is not None and self.may_act():
            try:
                await self.startups.observe(poll.tracks, self.health.pods, self.inventory)
            except StoreError as error:
                self._store_failed("record_startup", error)
            tracks = {deployment_id: view.health for deployment_id, view in self.views.items()}
            self.startups.judge_openings(policy_set, self.inventory.values(), tracks, self._clock())
        if poll.gone:
            try:
                await asyncio.to_thread(self._forget_in_store, poll.gone)
            except StoreError as error:
                self._store_failed("forget", error)
            self._forget(poll.gone)

    def due(self, now: datetime) -> set[UUID] | None:
        """The deployments whose answer may have changed by ``now`` (``None``: all of them, when the
        probe of the wallet or the organization id fell due since the last cycle over every deployment)."""
        probe = self.organization.next_probe()
        if probe is not None and probe <= now and (self.last_full_at is None or probe > self.last_full_at):
            return None
        due = {deployment_id for deployment_id, at in self.next_changes.items() if at <= now}
        due |= {deployment_id for deployment_id, at in self.backoff_until.items() if at <= now}
        return due & self.inventory.keys()

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The next instant after ``now`` at which some deployment's answer changes, a backoff ends or the
        probe of the wallet or the organization id is due (the token probe has a job of its own)."""
        candidates = [at for at in self.next_changes.values() if at > now]
        candidates += [at for at in self.backoff_until.values() if at > now]
        probe = self.organization.next_probe()
        if probe is not None and probe > now:
            candidates.append(probe)
        return min(candidates) if candidates else None

    # --- A cycle ----------------------------------------------------------------------

    async def reconcile(
        self, *, reason: str, only: Collection[UUID] | None = None, complete: bool = False
    ) -> CycleSummary:
        """Run one cycle over the cached inventory (or the ``only`` subset of it); return its summary.

        ``complete``: ``only`` holds every deployment whose plan waits (:attr:`Executor.waiting_deployments`),
        so the plans it no longer makes stop waiting, as in a cycle over every deployment.

        The cycle's instant is read here, once the cycle holds :attr:`lock` (see :meth:`_decision_instant`).
        """
        async with self.lock:
            summary = await self._locked_cycle(reason=reason, only=lambda _now: only, complete=complete)
        assert summary is not None  # only an empty due set skips a cycle
        return summary

    async def reconcile_due(self, *, reason: str = "boundary") -> CycleSummary | None:
        """Reconcile the deployments whose answer has changed by now (:meth:`due`, read under the lock).

        Returns ``None`` when none is due (the next wake-up is planned again all the same).
        """
        async with self.lock:
            return await self._locked_cycle(reason=reason, only=self.due, skip_when_empty=True)

    def _decision_instant(self) -> datetime | None:
        """The instant a cycle decides with: read now, after its I/O and once it holds the lock.

        A job that waited (for a list, for health answers, for the lock held by a boundary
        whose calls were retrying) must not decide with the instant it started at: newer
        decisions may have been applied meanwhile, and deciding at the older instant would
        revert them. The daemon's clock never goes back (:class:`~scaler.daemon.clock.SteadyClock`);
        should an instant older than the last decision come back all the same, the cycle
        stands down (``None``) and leaves the work to the next one.
        """
        now = self._clock()
        last = self.last_decided_at
        if last is not None and now < last:
            log.warning(
                "decision_stood_down",
                now=iso(now),
                last_decision=iso(last),
                effect="an instant older than the last decision never acts; the next cycle decides",
            )
            return None
        self.last_decided_at = now
        return now

    async def _locked_cycle(
        self,
        *,
        reason: str,
        only: Callable[[datetime], Collection[UUID] | None],
        skip_when_empty: bool = False,
        complete: bool = False,
    ) -> CycleSummary | None:
        now = self._decision_instant()
        if now is None:
            return CycleSummary(reason=reason, at=self.last_decided_at or self._clock(), error="stale instant")
        subset = only(now)
        if skip_when_empty and subset is not None and not subset:
            if self.on_next_wakeup is not None:
                self.on_next_wakeup(self.next_wakeup(now))
            return None
        started = time.perf_counter()
        summary = await self._cycle(now, reason=reason, only=subset, complete=complete)
        self._metrics.reconcile_duration.observe(time.perf_counter() - started)
        if summary.error is None:
            self.last_success_at = now
            if subset is None:
                self.last_full_at = now
            self._metrics.last_reconcile.set(unix_seconds(self._clock()))
        self.last_summary = summary
        if self.on_cycle is not None:
            self.on_cycle(summary)
        if self.on_next_wakeup is not None:
            self.on_next_wakeup(self.next_wakeup(now))
        return summary

    async def _cycle(
        self, now: datetime, *, reason: str, only: Collection[UUID] | None, complete: bool = False
    ) -> CycleSummary:
        summary = CycleSummary(reason=reason, at=now)
        policy_set = self.policies.current
        if policy_set is None:
            summary.error = "no policy set is loaded"
            return summary
        if self.inventory_at is None:
            summary.error = "the deployments have not been listed yet"
            return summary
        acting = self.may_act()
        summary.acting = acting
        if self.needs_recovery and acting and self._listed_since_cycle:
            # Only against a fresh list: pending actions are settled by what the platform shows now.
            try:
                recovered = await recover_pending(
                    store=self._store, executor=self.executor, client=self._client, inventory=self.inventory, now=now
                )
            except StoreError as error:
                self._store_failed("recover_pending", error)
                summary.error = f"crash recovery failed: {error}"
                return summary
            self.needs_recovery = False
            self._absorb_statuses(recovered, sent_since_listed=False)
            summary.reports.extend(recovered.reports)
        try:
            memory = await asyncio.to_thread(self._read_memory, now)
        except StoreError as error:
            self._store_failed("read", error)
            summary.error = f"the state store cannot be read: {error}"
            return summary
        self.health.remember(memory.tracks)
        try:
            await self.startups.load_once()
        except StoreError as error:
            self._store_failed("startups", error)
        self.startups.refresh(policy_set, self.inventory.values(), now)
        # Savings run up to what the platform was last seen doing, not past it (the list may be older than now).
        observed = self.inventory_at if self._listed_since_cycle and self.inventory_at is not None else now
        counted = self._savings.settle(observed, count=acting)
        if counted:  # one write per cycle; a dry run and a standby count nothing, so write nothing
            try:
                await asyncio.to_thread(self._store.add_savings, counted)
            except StoreError as error:
                self._store_failed("add_savings", error)

        self._listed_since_cycle = False
        full = only is None
        targets = [self.inventory[key] for key in (self.inventory if full else only) if key in self.inventory]
        summary.considered = len(targets)
        applied_view = self.executor.applied_view(memory.applied)
        suspended_now: set[UUID] = set()
        resolved: dict[UUID, _Considered] = {}
        plans: list[Plan] = []
        for deployment in targets:
            deployment_id = deployment.deployment_id
            try:
                resolution, rules = self._resolve(policy_set, deployment, memory, now)
                if resolution.suspended:
                    suspended_now.add(deployment_id)
                    self._note_skipped_transition(policy_set, deployment, memory, now, rules)
                else:
                    self._skipped.forget(deployment_id)
                    if deployment_id in self._suspended:
                        self._resuming.add(deployment_id)
                decision = decide(
                    deployment,
                    resolution,
                    applied=applied_view.get(deployment_id),
                    now=now,
                    allow_delete=self.allow_delete,
                    backoff=memory.backoffs.get(deployment_id),
                    resumed=deployment_id in self._resuming,
                    spend_reference=self._spend_reference(policy_set, resolution),
                )
                decision = self._hold_on_stale_health(deployment, decision, memory.tracks.get(deployment_id), now)
            except Exception as error:  # one failing deployment never stops the others
                self._deployment_failed(deployment, error, now)
                continue
            resolved[deployment_id] = _Considered(resolution, rules, decision)
            plans.extend(decision.plans)
        self._suspended = suspended_now if full else (self._suspended - set(resolved)) | suspended_now

        execution = Execution()
        if acting and plans:
            recheck = PlanRecheck(
                self._exceptions_reader,
                self._store,
                revision=memory.exceptions_revision,
                exceptions=memory.exceptions,
                now=now,
            )
            execution = await self.executor.execute(
                plans,
                now=now,
                backoffs=memory.backoffs,
                every_deployment=full,
                covering=[deployment.deployment_id for deployment in targets] if complete else (),
                recheck=recheck.why_not,
            )
        elif plans:
            log.debug("plans_not_executed", plans=len(plans), why="this instance may not act")
        if execution.unrecorded:
            self.needs_recovery = True
        summary.reports.extend(execution.reports)
        self._absorb_statuses(execution)
        if acting:
            self.startups.note_actions(policy_set, self.inventory, applied_view, execution)
        if execution.gone:
            self._forget(execution.gone)
        if acting:  # the leader alone keeps the rules' memory (a standby's copy may be stale)
            await self._remember(policy_set, memory, resolved, execution, now)
        self._publish(policy_set, memory, resolved, execution, now)
        if full:
            self._coverage.observe(policy_set, list(self.inventory.values()), self.inventory_at)
            self._conflicts.retain(self.inventory.keys())
        return summary

    def _note_skipped_transition(
        self,
        policy_set: PolicySet,
        deployment: Deployment,
        memory: _Memory,
        now: datetime,
        rules: Mapping[str, HealthRuleMemory],
    ) -> None:
        """Ask the engine what a suspended deployment's policy would want now, to log each boundary skipped."""
        deployment_id = deployment.deployment_id
        matched = match_policies(policy_set, deployment).policy
        exceptions = in_force(memory.exceptions, deployment_id, matched.name if matched else None, now)
        suspension = exceptions.suspension_view(deployment_id, deployment.deployment_name)
        if suspension is None:
            return
        unsuspended = self._engine(
            policy_set,
            deployment,
            at=now,
            track=memory.tracks.get(deployment_id),
            exceptions=InForce(covering=exceptions.covering, override=exceptions.override),
            rules=rules,
        )
        self._skipped.observe(deployment, unsuspended, suspension)

    @property
    def health_held(self) -> set[UUID]:
        """The deployments whose health-rule plans wait for a health answer that can be read."""
        return set(self._health_held)

    def _hold_on_stale_health(
        self, deployment: Deployment, decision: Decision, track: HealthTrack | None, now: datetime
    ) -> Decision:
        """Hold the plans a health rule asks for unless the deployment's health was observed lately."""
        held = [plan for plan in decision.plans if plan.kind == "restart" or plan.source.startswith("health:")]
        deployment_id = deployment.deployment_id
        if not held or (track is not None and now - track.last_observed <= self.health_max_age):
            self._health_held.discard(deployment_id)
            return decision
        observed = iso(track.last_observed) if track is not None else None
        if deployment_id not in self._health_held:
            self._health_held.add(deployment_id)
            log.warning(
                "health_action_held",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                actions=[step.describe() for plan in held for step in plan.steps],
                rule=held[0].rule,
                health_observed_at=observed,
                effect="waits for a health answer that can be read",
            )
        remaining = tuple(plan for plan in decision.plans if plan not in held)
        return Decision(
            plans=remaining,
            skip=None if remaining else f"health rule {held[0].rule} waits: health last observed at {observed}",
        )

    @staticmethod
    def _spend_reference(policy_set: PolicySet, resolution: Resolution) -> tuple[int, int] | None:
        """The governing policy's bounds to compare a change with when the applied bounds are unknown."""
        policy = policy_set.policy(resolution.policy) if resolution.policy else None
        return policy.spend_reference if policy is not None else None

    def _read_memory(self, now: datetime) -> _Memory:
        store = self._store
        revision = store.exceptions_revision()  # before the exceptions: a write between is seen as a change
        return _Memory(
            exceptions_revision=revision,
            applied=store.all_applied(),
            tracks=store.health_tracks(),
            rules=store.all_rule_memory(),
            exceptions=store.active_exceptions(now),
            backoffs=store.backoffs(),
        )

    def _rules_of(self, memory: _Memory, deployment_id: UUID, policy: str) -> dict[str, HealthRuleMemory]:
        stored = dict(memory.rules.get(deployment_id, {}))
        stored.update(self._dry_rules.get(deployment_id, {}))
        rules: dict[str, HealthRuleMemory] = {}
        for (policy_name, rule), value in stored.items():
            if policy_name != policy:
                continue
            try:
                rules[rule] = HealthRuleMemory.from_json(value)
            except (ValueError, TypeError) as error:
                log.warning(
                    "rule_memory_unreadable",
                    deployment_id=str(deployment_id),
                    policy=policy,
                    rule=rule,
                    error=str(error),
                )
        return rules

    def _resolve(
        self,
        policy_set: PolicySet,
        deployment: Deployment,
        memory: _Memory,
        now: datetime,
        *,
        at: datetime | None = None,
        rules: Mapping[str, HealthRuleMemory] | None = None,
    ) -> tuple[Resolution, dict[str, HealthRuleMemory]]:
        deployment_id = deployment.deployment_id
        matched = match_policies(policy_set, deployment).policy
        if rules is None:
            rules = self._rules_of(memory, deployment_id, matched.name) if matched is not None else {}
        resolution = self._engine(
            policy_set,
            deployment,
            at=at or now,
            track=memory.tracks.get(deployment_id),
            exceptions=in_force(memory.exceptions, deployment_id, matched.name if matched else None, at or now),
            rules=rules,
        )
        return resolution, dict(rules)

    def _engine(
        self,
        policy_set: PolicySet,
        deployment: Deployment,
        *,
        at: datetime,
        track: HealthTrack | None,
        exceptions: InForce,
        rules: Mapping[str, HealthRuleMemory],
    ) -> Resolution:
        """Ask the engine about ``deployment`` at ``at`` with the tracked health, exceptions in force and
        rules' memory."""
        health = HealthObservation(HealthStatus.parse(track.value), track.since) if track is not None else None
        return resolve_desired_state(
            policy_set,
            deployment,
            now=at,
            health=health,
            rule_memory=rules,
            suspended_until=exceptions.suspended_until,
            override=exceptions.engine_override(),
            first_seen=self.first_seen.get(deployment.deployment_id),
            new=self.is_new(deployment.deployment_id),
            default_grace=self.new_deployment_grace,
            lead_times=self.startups.lead_times(policy_set, deployment),
        )

    def is_new(self, deployment_id: UUID) -> bool:
        """Whether the deployment was first seen after the store's first inventory (it gets a grace period)."""
        first_seen = self.first_seen.get(deployment_id)
        first_inventory = self.first_inventory_at
        return first_seen is not None and first_inventory is not None and first_seen > first_inventory

    async def _remember(
        self,
        policy_set: PolicySet,
        memory: _Memory,
        resolved: dict[UUID, _Considered],
        execution: Execution,
        now: datetime,
    ) -> None:
        """Persist the rules' memory that changed (restarts recorded); re-resolve restarted deployments."""
        items: list[tuple[UUID, str, str, Any]] = []
        for deployment_id, considered in resolved.items():
            resolution = considered.resolution
            if resolution.policy is None:
                continue
            after = dict(resolution.memory)
            restarted = execution.restarted.get(deployment_id)
            if restarted is not None:
                rule, at = restarted
                after[rule] = record_restart(after.get(rule), at)
                deployment = self.inventory.get(deployment_id)
                if deployment is not None:
                    considered.resolution, _ = self._resolve(policy_set, deployment, memory, now, rules=after)
            for rule, value in after.items():
                previous = considered.rules_before.get(rule)
                if previous is None or previous.to_json() != value.to_json():
                    items.append((deployment_id, resolution.policy, rule, json.loads(value.to_json())))
        if not items:
            return
        if self.executor.dry_run:
            for deployment_id, policy, rule, value in items:
                self._dry_rules.setdefault(deployment_id, {})[(policy, rule)] = value
            return
        try:
            await asyncio.to_thread(self._store.put_rule_memory, items)
        except StoreError as error:
            self._store_failed("put_rule_memory", error)

    def _publish(
        self,
        policy_set: PolicySet,
        memory: _Memory,
        resolved: dict[UUID, _Considered],
        execution: Execution,
        now: datetime,
    ) -> None:
        """Update views, gauges, savings and next changes of the deployments just considered."""
        applied_all = {**self.executor.applied_view(memory.applied), **execution.applied}
        stored_applied = {**memory.applied, **({} if self.executor.dry_run else execution.applied)}
        for deployment_id in execution.state_unknown:
            applied_all.pop(deployment_id, None)
            stored_applied.pop(deployment_id, None)
        backoffs = {**memory.backoffs}
        for deployment_id, backoff in execution.backoffs.items():
            if backoff is None:
                backoffs.pop(deployment_id, None)
            else:
                backoffs[deployment_id] = backoff
        self.backoff_until = {key: backoff.until for key, backoff in backoffs.items() if backoff.until > now}
        last_actions: dict[UUID, ActionReport] = {}
        last_waiting: dict[UUID, ActionReport] = {}
        for report in execution.reports:
            last_actions[report.deployment_id] = report
            if report.result in ("deferred", "blocked"):
                last_waiting[report.deployment_id] = report
        for deployment_id, considered in resolved.items():
            resolution, decision = considered.resolution, considered.decision
            deployment = self.inventory.get(deployment_id)
            if deployment is None:
                continue
            policy = policy_set.policy(resolution.policy) if resolution.policy else None
            baseline = baseline_replicas(policy)
            view = self.views.get(deployment_id) or DeploymentView(deployment=deployment)
            view.deployment = deployment
            view.resolution = resolution
            view.decision = decision
            view.applied = applied_all.get(deployment_id)
            view.health = memory.tracks.get(deployment_id, view.health)
            view.pods = self.health.pods.get(deployment_id, view.pods)
            view.exceptions = in_force(memory.exceptions, deployment_id, resolution.policy, now)
            view.suspension = view.exceptions.suspension_view(deployment_id, deployment.deployment_name)
            view.backoff = backoffs.get(deployment_id)
            view.first_seen = self.first_seen.get(deployment_id)
            view.baseline = baseline
            view.error = None
            view.considered_at = now
            if deployment_id in last_actions:
                view.last_action = last_actions[deployment_id]
            waiting = last_waiting.get(deployment_id)
            since = self.executor.waiting_since(deployment_id)
            view.waiting = (waiting.result, since or now) if waiting is not None else None
            view.next_change = resolution.next_change
            view.next_state = None
            view.next_state_known = False
            if resolution.next_change is not None:
                self.next_changes[deployment_id] = resolution.next_change
            else:
                self.next_changes.pop(deployment_id, None)
            if not decision.plans or deployment_id in execution.applied:
                self._resuming.discard(deployment_id)
            self._note_grace(deployment, resolution)
            self._conflicts.observe(deployment, resolution.conflict)
            self.views[deployment_id] = view
            self._gauges.publish(
                deployment,
                policy=resolution.policy,
                desired=resolution.desired,
                next_change=resolution.next_change,
                suspended=resolution.suspended,
            )
            self.exception_gauges.publish(deployment, resolution.source.startswith("override:"))
            self._gauges.publish_health(deployment, view.health.value if view.health else None, view.pods)
            self._savings.hold(
                deployment,
                state_saving(stored_applied.get(deployment_id), deployment.status, resolution.desired),
                baseline=baseline,
                pricing=policy_set.pricing,
                now=now,
            )
        self.exception_gauges.count(memory.exceptions, now)
        self._metrics.policy_conflicts.set(
            sum(1 for view in self.views.values() if view.resolution and view.resolution.conflict)
        )
        entries = [
            (deployment, state_in_effect(stored_applied.get(key), deployment.status), self._baseline_of(key))
            for key, deployment in self.inventory.items()
        ]
        for deployment, state, baseline in entries:
            self._gauges.publish_running_gpus(deployment, gpus_held(deployment, state, baseline))
        totals = running_gpus(entries)
        self._accelerators |= totals.keys()
        for accelerator in self._accelerators:
            self._metrics.running_gpus.labels(accelerator=accelerator).set(totals.get(accelerator, 0))

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
                    first_seen=iso(self.first_seen.get(deployment_id)),
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

    def next_state(self, view: DeploymentView) -> Resolution | None:
        """The engine's answer at the view's next change, with the memory of its last cycle (for /status).

        Computed on demand and kept until the next cycle considers the deployment; ``None``
        when there is no next change or the engine cannot answer.
        """
        if view.next_state_known:
            return view.next_state
        policy_set = self.policies.current
        if view.next_change is None or view.resolution is None or policy_set is None:
            return None
        try:
            view.next_state = self._engine(
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

    def _baseline_of(self, deployment_id: UUID) -> int:
        view = self.views.get(deployment_id)
        return view.baseline if view is not None else 1

    def _absorb_statuses(self, execution: Execution, *, sent_since_listed: bool = True) -> None:
        """Show the status each successful action established until a list requested after it confirms it.

        A call sent since the last list whose outcome is unknown (its answer lost) may have
        changed the status: until a list requested after it, the status is unknown and the
        deployment is left alone (a list taken before a start that did go through shows it
        stopped, and a stop due next would be taken as done). Calls a crash interrupted were
        sent before any list of this process (``sent_since_listed`` false).
        """
        answered = self._clock()
        statuses = dict(execution.statuses)
        for deployment_id in execution.state_unknown if sent_since_listed else ():
            statuses.setdefault(deployment_id, DeploymentStatus.UNKNOWN)
        for deployment_id, status in statuses.items():
            self._status_after_action[deployment_id] = (answered, status)
            deployment = self.inventory.get(deployment_id)
            if deployment is not None:
                self.inventory[deployment_id] = _with_status(deployment, status)

    def _forget(self, deployment_ids: Iterable[UUID]) -> None:
        """Forget deployments the platform answered 404 for (the store forgot them already or does now)."""
        gone = set(deployment_ids)
        for deployment_id in gone:
            deployment = self.inventory.pop(deployment_id, None)
            self.views.pop(deployment_id, None)
            self.next_changes.pop(deployment_id, None)
            self.backoff_until.pop(deployment_id, None)
            self._status_after_action.pop(deployment_id, None)
            self.executor.forget(deployment_id)
            log.warning(
                "deployment_gone",
                deployment=deployment.deployment_name if deployment else None,
                deployment_id=str(deployment_id),
                effect="forgotten: the platform no longer has it",
            )
        self.health.forget(gone)
        self.startups.forget(gone)
        self._gauges.retain(self.inventory.keys())
        self.exception_gauges.retain(self.inventory.keys())
        self._savings.retain(self.inventory.keys())

    def _forget_in_store(self, deployment_ids: Iterable[UUID]) -> None:
        for deployment_id in deployment_ids:
            self._store.forget(deployment_id)

    def _deployment_failed(self, deployment: Deployment, error: Exception, now: datetime) -> None:
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

    def _store_failed(self, operation: str, error: StoreError) -> None:
        self.executor.store_ok = False
        self._metrics.reconcile_errors.inc()
        log.error("store_failed", operation=operation, error=str(error), reason=getattr(error, "reason", None))


def _with_status(deployment: Deployment, status: DeploymentStatus) -> Deployment:
    """``deployment`` showing ``status`` (itself when it already does)."""
    if deployment.status is status:
        return deployment
    return deployment.model_copy(update={"status": status, "status_raw": status.value})
