"""One reconcile cycle: resolve, decide, hold, execute, remember; then the board publishes it.

A cycle runs at one instant ``now`` (read once the cycle holds :attr:`Reconciler.lock`, see
:meth:`Reconciler._decision_instant`) over the deployments of the last list
(:class:`~scaler.daemon.inventory.Inventory`, listed before the cycle, outside the lock):

1. **Recovery**: the first cycle that may act settles actions a crash left pending
   (:mod:`scaler.daemon.recovery`).
2. **Resolve and decide**: for every deployment (or the subset a boundary or a health
   change concerns) the engine resolves the desired state from the policies, the
   tracked health, the rules' memory, people's exceptions in force (a suspension, an
   override: :mod:`scaler.daemon.exceptions_in_force`) and the first sighting
   (:mod:`scaler.daemon.resolver`); :func:`scaler.daemon.decide.decide` turns it into
   calls. One deployment failing does not stop the others.
3. **Hold**: the calls a health rule asks for (a restart, a rule's state) wait while the
   deployment's health was last observed more than ``health_max_age`` ago: the platform's
   recent answers could not be read (or were not asked for, the platform being
   unreachable), and the last good one is not taken as still true.
4. **Execute** the calls through the :class:`~scaler.daemon.executor.Executor`, which
   re-checks the exceptions before each call (:mod:`scaler.daemon.exception_watch`): one
   written since the cycle read them that changes what decides a deployment stops that
   deployment's remaining calls.
5. **Remember**: the rules' memory (restarts included) is persisted and realized savings
   are counted, by the instance that may act only (a standby's copy could be stale); the
   :class:`~scaler.daemon.board.Board` updates gauges, the ``/status`` views and the next
   changes, and the next instant at which any answer changes (a boundary, a rule's timer,
   an exception's end, a backoff's end, a probe) is handed to the scheduler as the next wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from scaler.daemon.board import Board, Considered, CycleSummary, Published
from scaler.daemon.clock import Clock, iso, unix_seconds
from scaler.daemon.decide import Decision, Plan, decide
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.exception_watch import PlanRecheck, RevisionReader
from scaler.daemon.exceptions_in_force import InForce
from scaler.daemon.executor import Execution, Executor, always
from scaler.daemon.health import HealthPoll, HealthPoller
from scaler.daemon.inventory import Inventory
from scaler.daemon.memory import Memory
from scaler.daemon.notices import SkippedTransitions
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policies import PolicyKeeper
from scaler.daemon.recovery import recover_pending
from scaler.daemon.resolver import Resolved, Resolver
from scaler.daemon.startups import StartupLearner
from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.policy import PolicySet, Resolution, record_restart
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.store import HealthTrack, StoreError

log = structlog.get_logger()


class Reconciler:
    """Runs cycles (see the module's docstring); cycles serialize on :attr:`lock`."""

    def __init__(
        self,
        *,
        client: SimplismartClient,
        store: StoreAccess,
        metrics: Metrics,
        clock: Clock,
        policies: PolicyKeeper,
        executor: Executor,
        organization: OrganizationState,
        health: HealthPoller,
        inventory: Inventory,
        board: Board,
        resolver: Resolver,
        startups: StartupLearner,
        overlay: DryRunOverlay,
        allow_delete: bool,
        may_act: Callable[[], bool] = always,
        health_max_age: timedelta = timedelta(seconds=60),
    ) -> None:
        """``health_max_age``: how old the last health observation may be for a health rule to act on it."""
        self._client = client
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._policies = policies
        self._executor = executor
        self._organization = organization
        self._health = health
        self._inventory = inventory
        self._board = board
        self._resolver = resolver
        self._startups = startups
        self._overlay = overlay
        self.allow_delete = allow_delete
        self.may_act = may_act
        self.health_max_age = health_max_age
        self.lock = asyncio.Lock()
        self.on_next_wakeup: Callable[[datetime | None], None] | None = None
        self.on_cycle: Callable[[CycleSummary], None] | None = None
        """Told every cycle's summary (the notices of failed actions read it)."""
        self.last_decided_at: datetime | None = None
        """The instant of the latest cycle's decisions: no cycle decides at an older one."""
        self.needs_recovery = True
        self._exceptions_reader = RevisionReader(store.store)
        self._suspended: set[UUID] = set()
        self._resuming: set[UUID] = set()
        self._health_held: set[UUID] = set()
        self._skipped = SkippedTransitions()

    def listen(
        self,
        *,
        on_cycle: Callable[[CycleSummary], None] | None = None,
        on_next_wakeup: Callable[[datetime | None], None] | None = None,
    ) -> None:
        """Tell ``on_cycle`` every cycle's summary, ``on_next_wakeup`` the next wake-up after every cycle."""
        if on_cycle is not None:
            self.on_cycle = on_cycle
        if on_next_wakeup is not None:
            self.on_next_wakeup = on_next_wakeup

    def recover_pending_actions(self) -> None:
        """Settle the actions left pending (by a crash, or a predecessor as leader) at the next cycle that may act."""
        self.needs_recovery = True

    @property
    def health_held(self) -> set[UUID]:
        """The deployments whose health-rule calls wait for a health answer that can be read."""
        return set(self._health_held)

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The next instant after ``now`` at which some deployment's answer changes (:meth:`Board.next_wakeup`)."""
        return self._board.next_wakeup(now, self._organization.next_probe())

    def due(self, now: datetime) -> set[UUID] | None:
        """The deployments whose answer may have changed by ``now`` (:meth:`Board.due`)."""
        return self._board.due(now, self._organization.next_probe())

    # --- What happens between cycles ------------------------------------------------------

    async def absorb_health(self, poll: HealthPoll) -> None:
        """Publish the health just observed, and forget the deployments the platform answered 404 for."""
        inventory = self._inventory.deployments
        for deployment_id, track in poll.tracks.items():
            deployment = inventory.get(deployment_id)
            if deployment is not None:
                self._board.publish_health(deployment, track, self._health.pods.get(deployment_id))
        policy_set = self._policies.current
        if policy_set is not None and self.may_act():
            try:
                await self._startups.observe(poll.tracks, self._health.pods, inventory)
            except StoreError as error:
                self._store.failed("record_startup", error)
            tracks = {deployment_id: view.health for deployment_id, view in self._board.views.items()}
            self._startups.judge_openings(policy_set, inventory.values(), tracks, self._clock())
        if poll.gone:
            with contextlib.suppress(StoreError):  # reported; the store forgets them at the next 404
                await self._store.run("forget", lambda: self._forget_in_store(poll.gone), write=True)
            self._forget(poll.gone)

    def _forget_in_store(self, deployment_ids: Iterable[UUID]) -> None:
        for deployment_id in deployment_ids:
            self._store.store.forget(deployment_id)

    def _forget(self, deployment_ids: Iterable[UUID]) -> None:
        """Forget deployments the platform answered 404 for (the store forgot them already or does now)."""
        gone = set(deployment_ids)
        for deployment_id in gone:
            deployment = self._inventory.forget(deployment_id)
            self._board.forget(deployment_id)
            self._executor.forget(deployment_id)
            log.warning(
                "deployment_gone",
                deployment=deployment.deployment_name if deployment else None,
                deployment_id=str(deployment_id),
                effect="forgotten: the platform no longer has it",
            )
        self._health.forget(gone)
        self._startups.forget(gone)
        self._board.retain(self._inventory.deployments.keys())

    # --- A cycle ----------------------------------------------------------------------

    async def reconcile(
        self, *, reason: str, only: Collection[UUID] | None = None, complete: bool = False
    ) -> CycleSummary:
        """Run one cycle over the last list (or the ``only`` subset of it); return its summary.

        ``complete``: ``only`` holds every deployment whose plan waits (:attr:`Executor.waiting_deployments`),
        so the plans it no longer makes stop waiting, as in a cycle over every deployment.
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
            self._metrics.last_reconcile.set(unix_seconds(self._clock()))
        self._board.cycle_ended(summary, full=subset is None)
        if self.on_cycle is not None:
            self.on_cycle(summary)
        if self.on_next_wakeup is not None:
            self.on_next_wakeup(self.next_wakeup(now))
        return summary

    async def _cycle(
        self, now: datetime, *, reason: str, only: Collection[UUID] | None, complete: bool = False
    ) -> CycleSummary:
        summary = CycleSummary(reason=reason, at=now)
        policy_set = self._policies.current
        if policy_set is None:
            summary.error = "no policy set is loaded"
            return summary
        if self._inventory.listed_at is None:
            summary.error = "the deployments have not been listed yet"
            return summary
        summary.acting = acting = self.may_act()
        memory = await self._prepare(policy_set, summary, acting)
        if memory is None:
            return summary
        full = only is None
        listed = self._inventory.deployments
        targets = [listed[key] for key in (listed if full else only) if key in listed]
        summary.considered = len(targets)
        considered, calls = self._decide_all(policy_set, targets, memory, now, full=full)
        execution = Execution()
        if acting and calls:
            execution = await self._execute(calls, memory, now, full=full, covering=targets if complete else ())
        elif calls:
            log.debug("plans_not_executed", plans=len(calls), why="this instance may not act")
        summary.reports.extend(execution.reports)
        await self._take_in(policy_set, memory, considered, execution, now, acting=acting)
        if full:
            self._board.observe_coverage(policy_set)
        return summary

    async def _prepare(self, policy_set: PolicySet, summary: CycleSummary, acting: bool) -> Memory | None:
        """Settle what a crash left pending, read the store's memory and count the savings up to the list.

        Returns the memory, or ``None`` (with ``summary.error`` said) when the cycle cannot go on.
        """
        now = summary.at
        inventory = self._inventory
        if self.needs_recovery and acting and inventory.listed_since_cycle:
            # Only against a fresh list: pending actions are settled by what the platform shows now.
            try:
                recovered = await recover_pending(
                    store=self._store.store,
                    executor=self._executor,
                    client=self._client,
                    inventory=inventory.deployments,
                    now=now,
                )
            except StoreError as error:
                self._store.failed("recover_pending", error)
                summary.error = f"crash recovery failed: {error}"
                return None
            self.needs_recovery = False
            self._absorb_statuses(recovered, sent_since_listed=False)
            summary.reports.extend(recovered.reports)
        try:
            stored = await self._store.run("read", lambda: Memory.read(self._store.store, now))
        except StoreError as error:
            summary.error = f"the state store cannot be read: {error}"
            return None
        memory = stored.compared_with(self._overlay)
        self._health.remember(memory.tracks)
        try:
            await self._startups.load_once()
        except StoreError as error:
            self._store.failed("startups", error)
        self._startups.refresh(policy_set, inventory.deployments.values(), now)
        # Savings run up to what the platform was last seen doing, not past it (the list may be older than now).
        observed = inventory.listed_at if inventory.listed_since_cycle and inventory.listed_at is not None else now
        counted = self._board.savings.settle(observed, count=acting)
        if counted:  # one write per cycle; a dry run and a standby count nothing, so write nothing
            with contextlib.suppress(StoreError):  # reported; those savings go uncounted in the store
                await self._store.write("add_savings", counted)
        inventory.listed_since_cycle = False
        return memory

    def _decide_all(
        self, policy_set: PolicySet, targets: list[Deployment], memory: Memory, now: datetime, *, full: bool
    ) -> tuple[dict[UUID, _Decided], list[Plan]]:
        """Resolve and decide every target; return what was considered and the calls to make."""
        applied = memory.compared
        suspended_now: set[UUID] = set()
        considered: dict[UUID, _Decided] = {}
        calls: list[Plan] = []
        for deployment in targets:
            deployment_id = deployment.deployment_id
            try:
                resolved = self._resolver.resolve(policy_set, deployment, memory, now)
                resolution = resolved.resolution
                if resolution.suspended:
                    suspended_now.add(deployment_id)
                    self._note_skipped_transition(policy_set, deployment, resolved, memory, now)
                else:
                    self._skipped.forget(deployment_id)
                    if deployment_id in self._suspended:
                        self._resuming.add(deployment_id)
                decision = decide(
                    deployment,
                    resolution,
                    applied=applied.get(deployment_id),
                    now=now,
                    allow_delete=self.allow_delete,
                    backoff=memory.backoffs.get(deployment_id),
                    resumed=deployment_id in self._resuming,
                    spend_reference=_spend_reference(policy_set, resolution),
                )
                decision = self._hold_on_stale_health(deployment, decision, memory.tracks.get(deployment_id), now)
            except Exception as error:  # one failing deployment never stops the others
                self._deployment_failed(deployment, error, now)
                continue
            considered[deployment_id] = _Decided(resolved, decision)
            calls.extend(decision.plans)
        self._suspended = suspended_now if full else (self._suspended - set(considered)) | suspended_now
        return considered, calls

    async def _execute(
        self, calls: list[Plan], memory: Memory, now: datetime, *, full: bool, covering: Iterable[Deployment]
    ) -> Execution:
        """Carry out ``calls`` through the executor, each re-checked against the exceptions written since."""
        recheck = PlanRecheck(
            self._exceptions_reader,
            self._store.store,
            revision=memory.exceptions_revision,
            exceptions=memory.exceptions,
            now=now,
        )
        return await self._executor.execute(
            calls,
            now=now,
            backoffs=memory.backoffs,
            every_deployment=full,
            covering=[deployment.deployment_id for deployment in covering],
            recheck=recheck.why_not,
        )

    async def _take_in(
        self,
        policy_set: PolicySet,
        memory: Memory,
        decided: dict[UUID, _Decided],
        execution: Execution,
        now: datetime,
        *,
        acting: bool,
    ) -> None:
        """Take in what the calls changed, remember it, and hand the cycle to the board."""
        if execution.unrecorded:
            self.needs_recovery = True
        self._absorb_statuses(execution)
        after = memory.after(execution, self._overlay)
        if acting:
            self._startups.note_actions(policy_set, self._inventory.deployments, memory.compared, execution)
        if execution.gone:
            self._forget(execution.gone)
        if acting:  # the leader alone keeps the rules' memory (a standby's copy may be stale)
            await self._remember(policy_set, memory, decided, execution, now)
        for deployment_id, entry in decided.items():
            if not entry.decision.plans or deployment_id in execution.applied:
                self._resuming.discard(deployment_id)
        considered = {key: Considered(entry.resolved.resolution, entry.decision) for key, entry in decided.items()}
        self._board.publish(Published(policy_set, memory, after, considered, execution.reports, now))

    def _note_skipped_transition(
        self, policy_set: PolicySet, deployment: Deployment, resolved: Resolved, memory: Memory, now: datetime
    ) -> None:
        """Ask the engine what a suspended deployment's policy would want now, to log each boundary skipped."""
        exceptions = resolved.exceptions
        suspension = exceptions.suspension_view(deployment.deployment_id, deployment.deployment_name)
        if suspension is None:
            return
        unsuspended = self._resolver.ask(
            policy_set,
            deployment,
            at=now,
            track=memory.tracks.get(deployment.deployment_id),
            exceptions=InForce(covering=exceptions.covering, override=exceptions.override),
            rules=resolved.rules,
        )
        self._skipped.observe(deployment, unsuspended, suspension)

    def _hold_on_stale_health(
        self, deployment: Deployment, decision: Decision, track: HealthTrack | None, now: datetime
    ) -> Decision:
        """Hold the calls a health rule asks for unless the deployment's health was observed lately."""
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

    async def _remember(
        self, policy_set: PolicySet, memory: Memory, decided: dict[UUID, _Decided], execution: Execution, now: datetime
    ) -> None:
        """Persist the rules' memory that changed (restarts recorded); re-resolve restarted deployments."""
        items: list[tuple[UUID, str, str, Any]] = []
        for deployment_id, entry in decided.items():
            resolution = entry.resolved.resolution
            if resolution.policy is None:
                continue
            after = dict(resolution.memory)
            restarted = execution.restarted.get(deployment_id)
            if restarted is not None:
                rule, at = restarted
                after[rule] = record_restart(after.get(rule), at)
                deployment = self._inventory.deployments.get(deployment_id)
                if deployment is not None:
                    resolved = self._resolver.resolve(policy_set, deployment, memory, now, rules=after)
                    entry.resolved = Resolved(resolved.resolution, entry.resolved.rules, resolved.exceptions)
            for rule, value in after.items():
                previous = entry.resolved.rules.get(rule)
                if previous is None or previous.to_json() != value.to_json():
                    items.append((deployment_id, resolution.policy, rule, json.loads(value.to_json())))
        if not items or self._overlay.keep_rules(items):
            return
        with contextlib.suppress(StoreError):  # reported; the memory is written again at its next change
            await self._store.write("put_rule_memory", items)

    def _absorb_statuses(self, execution: Execution, *, sent_since_listed: bool = True) -> None:
        """Show the status each successful action established until a list requested after it confirms it.

        A call sent since the last list whose outcome is unknown (its answer lost) may have
        changed the status: until a list requested after it, the status is unknown and the
        deployment is left alone (a list taken before a start that did go through shows it
        stopped, and a stop due next would be taken as done). Calls a crash interrupted were
        sent before any list of this process (``sent_since_listed`` false).
        """
        statuses = dict(execution.statuses)
        for deployment_id in execution.state_unknown if sent_since_listed else ():
            statuses.setdefault(deployment_id, DeploymentStatus.UNKNOWN)
        self._inventory.absorb_statuses(statuses, answered=self._clock())

    def _deployment_failed(self, deployment: Deployment, error: Exception, now: datetime) -> None:
        self._metrics.reconcile_errors.inc()
        log.error(
            "deployment_failed",
            deployment=deployment.deployment_name,
            deployment_id=str(deployment.deployment_id),
            error=repr(error),
            exc_info=error,
        )
        self._board.deployment_failed(deployment, error, now)


@dataclass
class _Decided:
    """One deployment in one cycle: the engine's answer with its inputs, and the decision."""

    resolved: Resolved
    decision: Decision


def _spend_reference(policy_set: PolicySet, resolution: Resolution) -> tuple[int, int] | None:
    """The governing policy's bounds to compare a change with when the applied bounds are unknown."""
    policy = policy_set.policy(resolution.policy) if resolution.policy else None
    return policy.spend_reference if policy is not None else None
