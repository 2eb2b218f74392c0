"""Carrying out plans: the only code that sends mutating calls, and the one that decides whether to send them.

Which plans of a cycle go out and which wait (the gates, the budget, most urgent first) is
:mod:`scaler.daemon.admission`'s answer; blocked and deferred plans are recorded, logged and
counted once, not every cycle. What follows a failed call (backoff, pause, wallet block,
forgetting, outcome unknown) is :mod:`scaler.daemon.consequences`'s; the executor applies it.

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
import contextlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from scaler.daemon.admission import OPEN_GATES, Admitted, Held, Passage, Waiting, admit
from scaler.daemon.clock import Clock
from scaler.daemon.consequences import Consequence, consequence_of
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.decide import STARTSTOP_ACTIONS, Plan, Step, applied_state_of
from scaler.daemon.journal import ActionReport, Journal, Outcome
from scaler.daemon.organization import OrganizationState
from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import SimplismartError
from scaler.simplismart.models import DeploymentStatus
from scaler.store import ActionIntent, ActionOutcome, AppliedState, Backoff, StoreError

log = structlog.get_logger()

Recheck = Callable[[Plan], Awaitable[str | None]]
"""Asked before each call: why the plan no longer stands (``None``: it still does)."""

#: The status a deployment shows once a successful action has taken effect.
STATUS_AFTER = {
    "stop": DeploymentStatus.SCALED_DOWN,
    "start": DeploymentStatus.DEPLOYED,
    "restart": DeploymentStatus.DEPLOYED,
    "delete": DeploymentStatus.DELETING,
}

def always() -> bool:
    """The default fence: a single instance may always act."""
    return True


@dataclass
class Execution:
    """Everything a cycle's plans changed, for the reconciler to take into account."""

    reports: list[ActionReport] = field(default_factory=list)
    applied: dict[UUID, AppliedState] = field(default_factory=dict)
    """New applied states (notes included); in a dry run, the in-memory ones."""
    restarted: dict[UUID, tuple[str, datetime]] = field(default_factory=dict)
    """Deployments restarted by a health rule: the rule and when (for ``record_restart``)."""
    statuses: dict[UUID, DeploymentStatus] = field(default_factory=dict)
    """The status each deployment shows after the actions that succeeded."""
    gone: set[UUID] = field(default_factory=set)
    """Deployments the platform no longer has (404): forgotten."""
    backoffs: dict[UUID, Backoff | None] = field(default_factory=dict)
    """Backoffs set (after a refusal) or cleared (``None``, after a success)."""
    state_unknown: set[UUID] = field(default_factory=set)
    """Deployments whose applied state was forgotten: a call's outcome is unknown."""
    unrecorded: bool = False
    """An outcome could not be written: some action stays pending until recovery."""


class _StepFailed(Exception):
    """A step's call failed; ``stopped`` when a restart's stop went out before its start failed."""

    def __init__(self, error: SimplismartError, *, stopped: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.stopped = stopped


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
        self._waiting: dict[tuple[UUID, str], tuple[tuple[object, ...], datetime]] = {}
        """Each plan slot's pending plan (key) and when it was first decided."""
        self._reported: dict[tuple[UUID, str], tuple[object, ...]] = {}
        """The last deferred or blocked report of each deployment: (plan key, result, why)."""

    @property
    def waiting_deployments(self) -> set[UUID]:
        """The deployments with a plan remembered as waiting (deferred or blocked) or reported as such."""
        return {deployment_id for deployment_id, _ in {*self._waiting, *self._reported}}

    def waiting_since(self, deployment_id: UUID) -> datetime | None:
        """When the state plan now pending for ``deployment_id`` was first decided (deferred or blocked), if any."""
        entry = self._waiting.get((deployment_id, "state")) or self._waiting.get((deployment_id, "expiry"))
        return entry[1] if entry else None

    def forget(self, deployment_id: UUID) -> None:
        """Drop what the executor remembers about a deployment that is gone."""
        for slot in ((deployment_id, "state"), (deployment_id, "expiry")):
            self._waiting.pop(slot, None)
            self._reported.pop(slot, None)
        self._overlay.forget(deployment_id)
        self._locks.pop(deployment_id, None)

    def lock(self, deployment_id: UUID) -> asyncio.Lock:
        """The lock held while calls are sent for ``deployment_id``."""
        return self._locks.setdefault(deployment_id, asyncio.Lock())

    # --- A cycle -------------------------------------------------------------

    async def execute(
        self,
        plans: Sequence[Plan],
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
        if every_deployment or covering:
            planned = {plan.slot for plan in plans}
            remembered = {*self._waiting, *self._reported}
            for slot in [key for key in remembered if key not in planned and (every_deployment or key[0] in covering)]:
                self._waiting.pop(slot, None)
                self._reported.pop(slot, None)
        waiting = [Waiting(plan, self._note_waiting(plan, now)) for plan in plans]
        gates = OPEN_GATES if not self._sends else self._organization.gates(now)
        admission = admit(waiting, gates=gates, budget=self.max_actions_per_cycle)
        going = admission.admitted
        for admitted in going:
            self._organization.take_probes(admitted.passage)
        held = admission.held
        await self._report_held(held, now, execution)
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

    def _note_waiting(self, plan: Plan, now: datetime) -> datetime:
        entry = self._waiting.get(plan.slot)
        if entry is None or entry[0] != plan.key:
            entry = (plan.key, now)
            self._waiting[plan.slot] = entry
        return entry[1]

    def _done(self, plan: Plan) -> None:
        """The plan ran: it no longer waits, and a later identical plan is reported again."""
        self._waiting.pop(plan.slot, None)
        self._reported.pop(plan.slot, None)

    async def _report_held(self, held: list[Held], now: datetime, execution: Execution) -> None:
        """Record, log and count deferred and blocked plans, each once while it stays the same."""
        entries: list[tuple[ActionIntent, ActionOutcome]] = []
        fresh: list[tuple[Plan, Step, str, str]] = []
        for entry in held:
            plan, result, why = entry.plan, entry.result, entry.why
            new = self._reported.get(plan.slot) != (plan.key, result, why)
            for step in plan.steps:
                report = replace(
                    self.journal.report(plan, step, Outcome(result, message=why), now, new=new),
                    by_configuration=plan.blocked is not None,
                )
                execution.reports.append(report)
                if new:
                    entries.append((self.journal.intent(plan, step, now, last=False), ActionOutcome(result, now, why)))
                    fresh.append((plan, step, result, why))
        if not entries:
            return
        if await self.journal.record(entries) is None:
            return
        for plan, step, result, why in fresh:
            self._reported[plan.slot] = (plan.key, result, why)
            self.journal.count(plan, step, Outcome(result))
            self.journal.log(plan, step, Outcome(result, message=why))

    # --- One plan --------------------------------------------------------------

    async def _run(
        self,
        plan: Plan,
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
        plan: Plan,
        now: datetime,
        backoff: Backoff | None,
        execution: Execution,
        first_action_id: int | None,
        recheck: Recheck | None = None,
    ) -> None:
        deployment_id = plan.deployment.deployment_id
        for index, step in enumerate(plan.steps):
            last = index == len(plan.steps) - 1
            action_id = first_action_id if index == 0 else None
            if action_id is None:
                if self.stopping or not self.may_act():
                    self._not_started(plan, step)
                    return
                begun = await self.journal.begin([self.journal.intent(plan, step, now, last=last)])
                if begun is None:
                    return
                action_id = begun[0]
            if self.stopping or not self.may_act():
                why = "shutting down" if self.stopping else "this instance may no longer act"
                await self.journal.finish(action_id, plan, step, Outcome("deferred", message=f"not sent: {why}"))
                return
            changed = await self._recheck(recheck, plan)
            if changed is not None:
                await self.journal.finish(action_id, plan, step, Outcome("deferred", message=f"not sent: {changed}"))
                return
            try:
                message, request_id = await self._send(step, deployment_id)
            except _StepFailed as failure:
                finished = self._clock()
                consequence = consequence_of(
                    step, failure.error, stopped=failure.stopped, backoff=backoff, at=finished
                )
                if consequence.not_sent:
                    # Leadership was lost between the check above and the first attempt: nothing left.
                    not_sent = Outcome("deferred", message=f"not sent: {consequence.message}")
                    await self.journal.finish(action_id, plan, step, not_sent)
                    return
                await self._failed(plan, step, action_id, failure, consequence, finished, now, execution)
                return
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
            outcome = Outcome("success", message=message, request_id=request_id, applied=applied)
            recorded = await self.journal.finish(action_id, plan, step, outcome)
            if not recorded:
                execution.unrecorded = True
                return
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
        self._done(plan)
        if backoff is not None:
            try:
                await self.journal.failures().write("clear_backoff", deployment_id)
            except StoreError:
                return  # reported; the backoff stays on record and ends by itself
            execution.backoffs[deployment_id] = None

    async def _recheck(self, recheck: Recheck | None, plan: Plan) -> str | None:
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

    def _not_started(self, plan: Plan, step: Step) -> None:
        log.info(
            "action_not_started",
            deployment=plan.deployment.deployment_name,
            deployment_id=str(plan.deployment.deployment_id),
            action=step.action,
            why="shutting down" if self.stopping else "this instance may not act",
        )

    async def _send(self, step: Step, deployment_id: UUID) -> tuple[str, str | None]:
        """Send the call(s) of ``step``; return the platform's message and the request id.

        Raises :class:`_StepFailed` with the client's error.
        """
        client = self._client
        try:
            if step.action == "update_replicas":
                answer: Any = await client.update_replicas(deployment_id, step.min_replicas, step.max_replicas)
            elif step.action == "stop":
                answer = await client.stop(deployment_id)
            elif step.action == "start":
                answer = await client.start(deployment_id)
            elif step.action == "delete":
                answer = await client.delete(deployment_id)
            else:
                stopped = await client.stop(deployment_id)
                try:
                    answer = await client.start(deployment_id)
                except SimplismartError as error:
                    raise _StepFailed(error, stopped=True) from None
                return f"{stopped.message}; {answer.message}".strip("; "), answer.request_id
        except SimplismartError as error:
            raise _StepFailed(error) from None
        return answer.message, answer.request_id

    async def _failed(
        self,
        plan: Plan,
        step: Step,
        action_id: int,
        failure: _StepFailed,
        consequence: Consequence,
        finished: datetime,
        now: datetime,
        execution: Execution,
    ) -> None:
        """Apply what follows the failed ``step`` (``consequence``), then record, report and log it."""
        error = failure.error
        deployment_id = plan.deployment.deployment_id
        message = consequence.message
        if consequence.pause == "token":
            self._organization.auth_refused(finished, error)
        elif consequence.pause == "wallet":
            self._organization.wallet_refused(finished, error)
        elif consequence.pause == "org_id":
            self._organization.org_id_refused(finished, error)
        if consequence.forget:
            execution.gone.add(deployment_id)
        backoff_recorded = False
        if consequence.backoff is not None:
            new = consequence.backoff
            try:
                execution.backoffs[deployment_id] = await self.journal.failures().write(
                    "set_backoff", deployment_id, new.until, new.failures, new.reason
                )
                backoff_recorded = True
            except StoreError:
                backoff_recorded = False  # reported; the failure is logged without its backoff
        unknown = consequence.state_unknown
        outcome = Outcome(
            "error",
            message=message,
            request_id=error.request_id,
            error_reason=error.reason,
            consequence=consequence.summary(backoff_recorded=backoff_recorded),
            state_unknown=unknown,
        )
        recorded = await self.journal.finish(action_id, plan, step, outcome)
        if recorded and unknown:
            execution.state_unknown.add(deployment_id)
        if failure.stopped:
            await self._note_stopped_by_restart(plan, finished, now, execution)
        if not recorded:
            execution.unrecorded = True
            return
        execution.reports.append(self.journal.report(plan, step, outcome, now, action_id=action_id))
        if consequence.forget:
            with contextlib.suppress(StoreError):  # reported; the store forgets it at the next 404
                await self.journal.failures().write("forget", deployment_id)
            self.forget(deployment_id)

    async def _note_stopped_by_restart(self, plan: Plan, at: datetime, now: datetime, execution: Execution) -> None:
        """A restart stopped the deployment and could not start it: remember it as stopped.

        The next cycle then sees the desired (running) state differ from what was applied
        and starts it, instead of leaving it stopped because "running" was applied before.
        """
        deployment_id = plan.deployment.deployment_id
        state = AppliedState(
            kind="stopped", applied_at=at, policy=plan.policy, rule=plan.rule, source=plan.source, decided_at=now
        )
        execution.statuses[deployment_id] = DeploymentStatus.SCALED_DOWN
        if plan.restart_rule is not None:
            execution.restarted[deployment_id] = (plan.restart_rule, at)
        try:
            await self.journal.failures().write("set_applied", deployment_id, state)
        except StoreError:
            return
        execution.applied[deployment_id] = state

    async def _note(self, plan: Plan, now: datetime, execution: Execution) -> None:
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
        self._done(plan)
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

    async def _dry_run(self, plan: Plan, now: datetime, execution: Execution) -> None:
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
        self._done(plan)
