"""Carrying out plans: the only code that sends mutating calls, and the one that decides whether to send them.

Which plans of a cycle go out and which wait (the gates, the budget, most urgent first) is
:mod:`scaler.daemon.admission`'s answer; blocked and deferred plans are recorded, logged and
counted once, not every cycle (:mod:`scaler.daemon.waiting`). The calls of a step are sent by
:mod:`scaler.daemon.sending`; what follows a failed call (backoff, pause, wallet block,
forgetting, outcome unknown) is :mod:`scaler.daemon.consequences`'s answer, applied by
:mod:`scaler.daemon.failed_calls`.

- **Fencing**: every call is sent only while ``may_act()`` holds (the leader elector's
  lease; always true for a single instance): checked before each action is recorded and
  again before it is sent, and by the client before each attempt (retries included, see
  ``SimplismartClient.may_send``). An action held back by the fence is recorded deferred.
- **One at a time**: a lock per deployment, so two calls on one deployment never overlap.
- **Exceptions re-checked**: before each call, the cycle's ``recheck`` (when given,
  :class:`~scaler.daemon.exception_watch.PlanRecheck`) says whether an exception written
  since the plan was decided (a suspension, say) changes what decides the deployment; if
  so, that call and the rest of its plan are recorded deferred, and the next cycle decides.
- **Write-ahead**: every action is recorded ``pending`` before its call (the first action
  of every plan of a cycle in one transaction, so a thousand calls at one boundary do not
  wait for a thousand commits) and finished, with the new applied state, after it; an
  action is logged and counted as applied only once its outcome is recorded. When the
  outcome cannot be recorded, the action stays pending and crash recovery settles it
  (:mod:`scaler.daemon.recovery`).
- **Dry run**: whether calls go out is asked of the
  :class:`~scaler.daemon.dry_run.DryRunOverlay` once; in a dry run everything is decided,
  recorded (``dry_run``), logged and counted, no call is sent, and what it "applied" is kept
  in the overlay only, so that each change is reported once and a later real run still converges.

When a state-changing call may or may not have taken effect, the deployment's applied
state is forgotten with the outcome: the next cycle applies the desired state once more
from what the platform reports, even when it has changed back to what was applied before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

import structlog

from scaler.daemon.admission import OPEN_GATES, Admitted, Passage, Waiting, admit
from scaler.daemon.clock import Clock
from scaler.daemon.calls import STARTSTOP_ACTIONS, Calls, Step
from scaler.daemon.decide import applied_state_of
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.execution import Execution, Recheck, always
from scaler.daemon.failed_calls import FailedCalls
from scaler.daemon.journal import Journal, Outcome
from scaler.daemon.organization import OrganizationState
from scaler.daemon.sending import STATUS_AFTER, StepFailed, send_step
from scaler.daemon.store_access import StoreAccess
from scaler.daemon.waiting import WaitingBook, report_held
from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.store import ActionOutcome, Backoff, StoreError

log = structlog.get_logger()

class Executor:
    """Sends the calls of plans, safely and visibly (see the module's docstring)."""

    def __init__(
        self,
        *,
        client: SimplismartClient,
        store: StoreAccess,
        metrics: Metrics,
        clock: Clock,
        organization: OrganizationState,
        overlay: DryRunOverlay,
        max_actions_per_cycle: int,
        may_act: Callable[[], bool] = always,
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._organization = organization
        self._overlay = overlay
        self._sends = overlay.sends
        self.max_actions_per_cycle = max_actions_per_cycle
        self.may_act = may_act
        self.stopping = False
        """Set on shutdown: no new action starts; calls in flight finish."""
        self.journal = Journal(store=store, metrics=metrics, clock=clock, dry_run=overlay.dry_run)
        self._locks: dict[UUID, asyncio.Lock] = {}
        self.waiting = WaitingBook()
        self._failures = FailedCalls(journal=self.journal, organization=organization, clock=clock, forget=self.forget)

    @property
    def waiting_deployments(self) -> set[UUID]:
        """The deployments with a plan waiting (deferred or blocked) or reported as such."""
        return self.waiting.deployments

    def waiting_since(self, deployment_id: UUID) -> datetime | None:
        """When the state plan now pending for ``deployment_id`` was first decided (deferred or blocked), if any."""
        return self.waiting.since(deployment_id)

    def forget(self, deployment_id: UUID) -> None:
        """Drop what the executor remembers about a deployment that is gone."""
        self.waiting.forget(deployment_id)
        self._overlay.forget(deployment_id)
        self._locks.pop(deployment_id, None)

    def lock(self, deployment_id: UUID) -> asyncio.Lock:
        """The lock held while calls are sent for ``deployment_id``."""
        return self._locks.setdefault(deployment_id, asyncio.Lock())

    # --- A cycle -------------------------------------------------------------

    async def execute(
        self,
        plans: Sequence[Calls],
        *,
        now: datetime,
        backoffs: Mapping[UUID, Backoff] | None = None,
        every_deployment: bool = False,
        covering: Collection[UUID] = (),
        recheck: Recheck | None = None,
    ) -> Execution:
        """Carry out ``plans`` decided at ``now`` within the budget; return what changed.

        ``every_deployment``: the plans cover the whole inventory, so a deployment without
        a plan no longer waits for anything; ``covering``: the same, for these deployments.
        ``recheck``: asked before each call why the plan no longer stands (``None``: it does),
        see the module's docstring.
        """
        execution = Execution()
        backoffs = backoffs or {}
        self.waiting.settle(plans, every_deployment=every_deployment, covering=covering)
        waiting = [Waiting(plan, self.waiting.note(plan, now)) for plan in plans]
        gates = OPEN_GATES if not self._sends else self._organization.gates(now)
        admission = admit(waiting, gates=gates, budget=self.max_actions_per_cycle)
        going = admission.admitted
        for admitted in going:
            self._organization.take_probes(admitted.passage)
        execution.reports.extend(await report_held(admission.held, now, book=self.waiting, journal=self.journal))
        first_ids = await self._write_ahead(going, now)
        outcomes = await asyncio.gather(
            *(
                self._run(
                    admitted.plan,
                    admitted.passage,
                    now,
                    backoffs.get(admitted.plan.deployment.deployment_id),
                    execution,
                    first_ids.get(id(admitted.plan)),
                    recheck,
                )
                for admitted in going
            ),
            return_exceptions=True,
        )
        for plan, outcome in zip([admitted.plan for admitted in going], outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error(
                    "plan_failed",
                    deployment=plan.deployment.deployment_name,
                    deployment_id=str(plan.deployment.deployment_id),
                    error=repr(outcome),
                    exc_info=outcome,
                )
                self._metrics.reconcile_errors.inc()
        return execution

    def _release(self, passage: Passage) -> None:
        """Give back the probes a plan took and did not use (or has finished using)."""
        if passage.spend == "probe":
            self._organization.probe_abandoned()
        if passage.org_probe:
            self._organization.org_probe_abandoned()

    async def _write_ahead(self, going: list[Admitted], now: datetime) -> dict[int, int]:
        """Record the first action of every plan that sends calls, pending, in one transaction.

        Returns each plan's (by ``id``) first action id. When the store cannot record them, no
        plan is sent: they are removed from ``going`` and decided again at the next cycle.
        """
        sending = [admitted.plan for admitted in going if admitted.plan.steps and self._sends]
        if not sending or self.stopping or not self.may_act():
            return {}
        intents = [self.journal.intent(plan, plan.steps[0], now, last=len(plan.steps) == 1) for plan in sending]
        ids = await self.journal.begin(intents)
        if ids is None:
            for admitted in [entry for entry in going if entry.plan in sending]:
                going.remove(admitted)
                self._release(admitted.passage)
            return {}
        return {id(plan): action_id for plan, action_id in zip(sending, ids, strict=True)}

    # --- One plan --------------------------------------------------------------

    async def _run(
        self,
        plan: Calls,
        passage: Passage,
        now: datetime,
        backoff: Backoff | None,
        execution: Execution,
        first_action_id: int | None,
        recheck: Recheck | None,
    ) -> None:
        async with self.lock(plan.deployment.deployment_id):
            try:
                if not self._sends:
                    await self._dry_run(plan, now, execution)
                elif not plan.steps:
                    await self._note(plan, now, execution)
                else:
                    await self._steps(plan, now, backoff, execution, first_action_id, recheck)
            finally:
                self._release(passage)

    async def _steps(
        self,
        plan: Calls,
        now: datetime,
        backoff: Backoff | None,
        execution: Execution,
        first_action_id: int | None,
        recheck: Recheck | None = None,
    ) -> None:
        """Send the steps of ``plan`` in order, each recorded before its call and finished after it."""
        deployment_id = plan.deployment.deployment_id
        for index, step in enumerate(plan.steps):
            action_id = await self._cleared(plan, index, now, first_action_id if index == 0 else None, recheck)
            if action_id is None:
                return
            try:
                message, request_id = await send_step(self._client, step, deployment_id)
            except StepFailed as failure:
                await self._failures.settle(
                    plan, step, action_id, failure, backoff=backoff, now=now, execution=execution
                )
                return
            outcome = Outcome("success", message=message, request_id=request_id)
            if not await self._succeeded(plan, index, action_id, outcome, now, execution):
                return
        self.waiting.done(plan)
        if backoff is not None:
            try:
                await self.journal.failures().write("clear_backoff", deployment_id)
            except StoreError:
                return  # reported; the backoff stays on record and ends by itself
            execution.backoffs[deployment_id] = None

    async def _cleared(
        self, plan: Calls, index: int, now: datetime, action_id: int | None, recheck: Recheck | None
    ) -> int | None:
        """The action id of step ``index`` once it may be sent (recorded pending first when ``action_id``
        is ``None``); ``None`` when it is not sent (shutting down, no longer leading, an exception
        written since, the store failing)."""
        step = plan.steps[index]
        if action_id is None:
            if self.stopping or not self.may_act():
                self._not_started(plan, step)
                return None
            begun = await self.journal.begin([self.journal.intent(plan, step, now, last=index == len(plan.steps) - 1)])
            if begun is None:
                return None
            action_id = begun[0]
        if self.stopping or not self.may_act():
            why = "shutting down" if self.stopping else "this instance may no longer act"
            await self.journal.finish(action_id, plan, step, Outcome("deferred", message=f"not sent: {why}"))
            return None
        changed = await self._recheck(recheck, plan)
        if changed is not None:
            await self.journal.finish(action_id, plan, step, Outcome("deferred", message=f"not sent: {changed}"))
            return None
        return action_id

    async def _succeeded(
        self, plan: Calls, index: int, action_id: int, sent: Outcome, now: datetime, execution: Execution
    ) -> bool:
        """Record step ``index`` of ``plan`` as done (``sent``: what the platform answered) with the applied
        state it completes; return whether it was recorded (the plan goes on only then)."""
        step, deployment_id = plan.steps[index], plan.deployment.deployment_id
        finished = self._clock()
        applied = None
        if plan.target is not None:  # each completed call is on record: an interrupted plan resumes after it
            applied = applied_state_of(
                plan.target,
                at=finished,
                policy=plan.policy,
                source=plan.source,
                decided_at=now,
                remaining=tuple(later.action for later in plan.steps[index + 1 :]),
            )
        outcome = replace(sent, applied=applied)
        if not await self.journal.finish(action_id, plan, step, outcome):
            execution.unrecorded = True
            return False
        execution.reports.append(self.journal.report(plan, step, outcome, now, action_id=action_id))
        if step.action in STATUS_AFTER:
            execution.statuses[deployment_id] = STATUS_AFTER[step.action]
        if plan.increases_spend:
            self._organization.spend_accepted(finished)
        if step.action in STARTSTOP_ACTIONS:
            self._organization.org_id_accepted(finished)
        if applied is not None:
            execution.applied[deployment_id] = replace(applied, action_id=action_id)
        if step.action == "restart" and plan.restart_rule is not None:
            execution.restarted[deployment_id] = (plan.restart_rule, now)
        return True

    async def _recheck(self, recheck: Recheck | None, plan: Calls) -> str | None:
        """Why ``plan`` no longer stands, by ``recheck``. Fail safe: when the store cannot say whether an
        exception was written, the call is not sent either (the next cycle decides again)."""
        if recheck is None:
            return None
        try:
            return await recheck(plan)
        except StoreError as error:
            log.warning(
                "exceptions_recheck_failed",
                deployment=plan.deployment.deployment_name,
                deployment_id=str(plan.deployment.deployment_id),
                error=str(error),
                effect="the call is not sent; the next cycle decides again",
            )
            return "the exceptions in force could not be read again"

    def _not_started(self, plan: Calls, step: Step) -> None:
        log.info(
            "action_not_started",
            deployment=plan.deployment.deployment_name,
            deployment_id=str(plan.deployment.deployment_id),
            action=step.action,
            why="shutting down" if self.stopping else "this instance may not act",
        )

    async def _note(self, plan: Calls, now: datetime, execution: Execution) -> None:
        """Record the target as applied without a call: the deployment is already that way."""
        assert plan.target is not None
        deployment_id = plan.deployment.deployment_id
        state = applied_state_of(plan.target, at=now, policy=plan.policy, source=plan.source, decided_at=now)
        if self._sends:
            try:
                await self.journal.failures().write("set_applied", deployment_id, state)
            except StoreError:
                return
        else:
            self._overlay.note_applied(deployment_id, state)
        execution.applied[deployment_id] = state
        self.waiting.done(plan)
        log.info(
            "state_noted",
            deployment=plan.deployment.deployment_name,
            deployment_id=str(deployment_id),
            policy=plan.policy,
            rule=plan.rule,
            state=plan.target.describe(),
            status=plan.deployment.status.value,
            reason=plan.reason,
            dry_run=not self._sends,
        )

    async def _dry_run(self, plan: Calls, now: datetime, execution: Execution) -> None:
        """Record, log and count the plan's actions as ``dry_run``; send nothing."""
        if not plan.steps:
            await self._note(plan, now, execution)
            return
        entries = [
            (self.journal.intent(plan, step, now, last=index == len(plan.steps) - 1), ActionOutcome("dry_run", now))
            for index, step in enumerate(plan.steps)
        ]
        ids = await self.journal.record(entries)
        if ids is None:
            return
        dry_run = Outcome("dry_run")
        for step, action_id in zip(plan.steps, ids, strict=True):
            execution.reports.append(self.journal.report(plan, step, dry_run, now, action_id=action_id))
            self.journal.count(plan, step, dry_run)
            self.journal.log(plan, step, dry_run)
        if plan.target is not None:
            state = applied_state_of(plan.target, at=now, policy=plan.policy, source=plan.source, decided_at=now)
            self._overlay.note_applied(plan.deployment.deployment_id, state)
            execution.applied[plan.deployment.deployment_id] = state
        if plan.restart_rule is not None:
            execution.restarted[plan.deployment.deployment_id] = (plan.restart_rule, now)
        self.waiting.done(plan)
