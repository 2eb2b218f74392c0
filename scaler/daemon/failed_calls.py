"""What follows a failed call, applied: :func:`~scaler.daemon.consequences.consequence_of` says what
(a pause of the organization's calls, a backoff, forgetting the deployment, an outcome left
unknown); :class:`FailedCalls` records the backoff, pauses, forgets, and finishes the action's
record with the consequence said. A restart whose stop went out before its start failed leaves
the deployment stopped, and that is remembered so the next cycle starts it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from scaler.daemon.clock import Clock
from scaler.daemon.consequences import Consequence, consequence_of
from scaler.daemon.calls import Calls, Step
from scaler.daemon.execution import Execution
from scaler.daemon.journal import Journal, Outcome
from scaler.daemon.organization import OrganizationState
from scaler.daemon.sending import StepFailed
from scaler.simplismart.models import DeploymentStatus
from scaler.store import AppliedState, Backoff, StoreError


class FailedCalls:
    """Applies what follows a failed call (see the module's docstring)."""

    def __init__(
        self, *, journal: Journal, organization: OrganizationState, clock: Clock, forget: Callable[[UUID], None]
    ) -> None:
        """``forget``: drops what the executor remembers of a deployment the platform no longer has."""
        self._journal = journal
        self._organization = organization
        self._clock = clock
        self._forget = forget

    async def settle(
        self,
        plan: Calls,
        step: Step,
        action_id: int,
        failure: StepFailed,
        *,
        backoff: Backoff | None,
        now: datetime,
        execution: Execution,
    ) -> None:
        """``step`` of ``plan`` (decided at ``now``, recorded as ``action_id``) failed: apply what follows."""
        finished = self._clock()
        consequence = consequence_of(step, failure.error, stopped=failure.stopped, backoff=backoff, at=finished)
        if consequence.not_sent:
            # Leadership was lost between the last check and the first attempt: nothing left.
            not_sent = Outcome("deferred", message=f"not sent: {consequence.message}")
            await self._journal.finish(action_id, plan, step, not_sent)
            return
        await self._apply(plan, step, action_id, failure, consequence, finished, now, execution)

    async def _apply(
        self,
        plan: Calls,
        step: Step,
        action_id: int,
        failure: StepFailed,
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
                execution.backoffs[deployment_id] = await self._journal.failures().write(
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
        recorded = await self._journal.finish(action_id, plan, step, outcome)
        if recorded and unknown:
            execution.state_unknown.add(deployment_id)
        if failure.stopped:
            await self._note_stopped_by_restart(plan, finished, now, execution)
        if not recorded:
            execution.unrecorded = True
            return
        execution.reports.append(self._journal.report(plan, step, outcome, now, action_id=action_id))
        if consequence.forget:
            with contextlib.suppress(StoreError):  # reported; the store forgets it at the next 404
                await self._journal.failures().write("forget", deployment_id)
            self._forget(deployment_id)

    async def _note_stopped_by_restart(self, plan: Calls, at: datetime, now: datetime, execution: Execution) -> None:
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
            await self._journal.failures().write("set_applied", deployment_id, state)
        except StoreError:
            return
        execution.applied[deployment_id] = state
