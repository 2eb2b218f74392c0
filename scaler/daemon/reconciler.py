"""One reconcile cycle: resolve, decide, hold, execute, remember; then the board publishes it.

A cycle runs at one instant (:class:`~scaler.daemon.clock.DecisionInstants`, read once it
holds :attr:`Reconciler.lock`) over the deployments of the last list (:mod:`scaler.daemon.inventory`):

1. **Recovery**: the first cycle that may act settles actions a crash left pending
   (:mod:`scaler.daemon.recovery`).
2. **Resolve and decide**: for every deployment (or the subset a boundary or a health
   change concerns) the engine's answer (:mod:`scaler.daemon.resolver`: policies, health,
   rules' memory, people's exceptions in force, first sighting) becomes calls
   (:func:`scaler.daemon.decide.decide`). One deployment failing does not stop the others.
3. **Hold** the calls a health rule asks for while the health is stale (:mod:`scaler.daemon.health_hold`).
4. **Execute** them (:class:`~scaler.daemon.executor.Executor`), each re-checked against the
   exceptions written since the cycle read them (:mod:`scaler.daemon.exception_watch`).
5. **Remember**: the rules' memory (restarts included) is persisted and realized savings
   are counted, by the instance that may act only (a standby's copy could be stale); the
   :class:`~scaler.daemon.board.Board` publishes the cycle, and the next instant at which
   any answer changes is handed to the scheduler as the next wake-up.
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
from scaler.daemon.clock import Clock, DecisionInstants, unix_seconds
from scaler.daemon.calls import Calls
from scaler.daemon.decide import Decision, decide
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.exception_watch import PlanRecheck, RevisionReader
from scaler.daemon.execution import Execution, always
from scaler.daemon.executor import Executor
from scaler.daemon.health_polling import HealthPoller
from scaler.daemon.health_intake import HealthIntake
from scaler.daemon.health_hold import HealthHold
from scaler.daemon.inventory import Inventory
from scaler.daemon.memory import Memory
from scaler.daemon.notices import SkippedTransitions
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policy_reload import PolicyKeeper
from scaler.daemon.recovery import recover_pending
from scaler.daemon.resolver import Resolved, Resolver, spend_reference
from scaler.daemon.startups import StartupLearner
from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.policy import PolicySet, record_restart
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.models import Deployment
from scaler.store import StoreError

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
        intake: HealthIntake,
        inventory: Inventory,
        board: Board,
        resolver: Resolver,
        startups: StartupLearner,
        overlay: DryRunOverlay,
        allow_delete: bool,
        health_hold: HealthHold,
        may_act: Callable[[], bool] = always,
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._policies = policies
        self._executor = executor
        self._organization = organization
        self._health = health
        self._intake = intake
        self._inventory = inventory
        self._board = board
        self._resolver = resolver
        self._startups = startups
        self._overlay = overlay
        self.allow_delete = allow_delete
        self.may_act = may_act
        self.lock = asyncio.Lock()
        self.on_next_wakeup: Callable[[datetime | None], None] | None = None
        self.on_cycle: Callable[[CycleSummary], None] | None = None
        """Told every cycle's summary (the notices of failed actions read it)."""
        self.instants = DecisionInstants(clock)
        self.needs_recovery = True
        self._exceptions_reader = RevisionReader(store.store)
        self._suspended: set[UUID] = set()
        self._resuming: set[UUID] = set()
        self._health_hold = health_hold
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
    def health_max_age(self) -> timedelta:
        """How old the last health observation may be for a health rule to act on it."""
        return self._health_hold.max_age

    @property
    def health_held(self) -> set[UUID]:
        """The deployments whose health-rule calls wait for a health answer that can be read."""
        return self._health_hold.held

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The next instant after ``now`` at which some deployment's answer changes (:meth:`Board.next_wakeup`)."""
        return self._board.next_wakeup(now, self._organization.next_probe())

    def due(self, now: datetime) -> set[UUID] | None:
        """The deployments whose answer may have changed by ``now`` (:meth:`Board.due`)."""
        return self._board.due(now, self._organization.next_probe())

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

    async def _locked_cycle(
        self,
        *,
        reason: str,
        only: Callable[[datetime], Collection[UUID] | None],
        skip_when_empty: bool = False,
        complete: bool = False,
    ) -> CycleSummary | None:
        now = self.instants.next()
        if now is None:
            return CycleSummary(reason=reason, at=self.instants.last or self._clock(), error="stale instant")
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
            inventory.absorb_outcomes(recovered, answered=self._clock(), sent_since_listed=False)
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
        self._startups.refresh(policy_set, inventory.deployments, now)
        # Savings run up to what the platform was last seen doing, not past it (the list may be older than now).
        observed = inventory.listed_at if inventory.listed_since_cycle and inventory.listed_at is not None else now
        counted = self._board.settle_savings(observed, count=acting)
        if counted:  # one write per cycle; a dry run and a standby count nothing, so write nothing
            with contextlib.suppress(StoreError):  # reported; those savings go uncounted in the store
                await self._store.write("add_savings", counted)
        inventory.listed_since_cycle = False
        return memory

    def _decide_all(
        self, policy_set: PolicySet, targets: list[Deployment], memory: Memory, now: datetime, *, full: bool
    ) -> tuple[dict[UUID, _Decided], list[Calls]]:
        """Resolve and decide every target; return what was considered and the calls to make."""
        applied = memory.compared
        suspended_now: set[UUID] = set()
        considered: dict[UUID, _Decided] = {}
        calls: list[Calls] = []
        for deployment in targets:
            deployment_id = deployment.deployment_id
            try:
                resolved = self._resolver.resolve(policy_set, deployment, memory, now)
                resolution = resolved.resolution
                if resolution.suspended:
                    suspended_now.add(deployment_id)
                    skipped = self._resolver.without_suspension(policy_set, deployment, resolved, memory, now)
                    if skipped is not None:
                        self._skipped.observe(deployment, *skipped)
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
                    spend_reference=spend_reference(policy_set, resolution),
                )
                decision = self._health_hold.apply(deployment, decision, memory.tracks.get(deployment_id), now)
            except Exception as error:  # one failing deployment never stops the others
                self._board.deployment_failed(deployment, error, now)
                continue
            considered[deployment_id] = _Decided(resolved, decision)
            calls.extend(decision.plans)
        self._suspended = suspended_now if full else (self._suspended - set(considered)) | suspended_now
        return considered, calls

    async def _execute(
        self, calls: list[Calls], memory: Memory, now: datetime, *, full: bool, covering: Iterable[Deployment]
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
        self._inventory.absorb_outcomes(execution, answered=self._clock())
        after = memory.after(execution, self._overlay)
        if acting:
            self._startups.note_actions(policy_set, self._inventory.deployments, memory.compared, execution)
        if execution.gone:
            self._intake.forget(execution.gone)
        if acting:  # the leader alone keeps the rules' memory (a standby's copy may be stale)
            await self._remember(policy_set, memory, decided, execution, now)
        for deployment_id, entry in decided.items():
            if not entry.decision.plans or deployment_id in execution.applied:
                self._resuming.discard(deployment_id)
        considered = {key: Considered(entry.resolved.resolution, entry.decision) for key, entry in decided.items()}
        self._board.publish(Published(policy_set, memory, after, considered, execution.reports, now))

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


@dataclass
class _Decided:
    """One deployment in one cycle: the engine's answer with its inputs, and the decision."""

    resolved: Resolved
    decision: Decision
