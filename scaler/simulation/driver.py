"""The real daemon against the simulator on a virtual clock that jumps from one due instant to the next.

:func:`run_simulation` builds the simulator from a seed, a throw-away in-memory store
and the :class:`~scaler.daemon.service.Daemon` of ``scaler run`` (same settings, jobs,
decisions, executor and store), its client speaking to the simulator in process. One
manual clock is the daemon's clock and the simulator's, and nothing else moves it:

- At the start the daemon runs its first cycle, as at start-up.
- Then the clock jumps to the next instant something is due: the daemon's next wake-up
  (a policy boundary, a health rule's ``for``, a backoff ending, the wallet probe), a
  scripted event, a change the simulator makes by itself (a start-up completing, a
  deletion finishing), a tick of the reconcile or health job, a window's nominal start
  (peak readiness is read there), or the end. At one instant: events, then the
  wake-up, then the reconcile job, then the health job.
- A tick of the reconcile job is skipped when nothing the list shows has changed since it
  last ran (no call, no change of a status), a tick of the health job when no answer has
  changed either (no event, no start-up completing): it would list the same deployments,
  read the same health and decide nothing. The health job reconciles, by itself, the
  deployments whose health changed.
  Before the daemon decides at an instant, the last skipped health tick before it runs
  at its own instant, so health rules decide on health as fresh as in ``scaler run``.
- A job takes no virtual time: the client's pacing and retry waits are skipped, and the
  store's calls run in the loop's thread, so the same inputs give the same run.
- At the end the reconcile job runs once more, so the savings counters reach the end;
  actions taken at the end instant belong to the next period and are left out.

The token probe, policy reloads and token re-reads are not run: nothing changes the
token or the policy files during a simulation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry

from scaler.daemon.service import Daemon
from scaler.metrics import Metrics
from scaler.policy import PolicySet
from scaler.policy.forecast import Forecast
from scaler.policy.plan import build_plan
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.clock import ManualClock
from scaler.sim.inprocess import PlatformTransport
from scaler.sim.state import SimState
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.retries import RetryPolicy
from scaler.simulation import shortcuts
from scaler.simulation.answers import HealthChanges
from scaler.simulation.readiness import PeakWindow, peak_windows
from scaler.simulation.run import SimulationInput, SimulationRun
from scaler.simulation.event_timeline import Timeline
from scaler.store import open_store

#: Audit records read back at the end, at most (a week of 1,000 deployments takes far fewer).
MAX_ACTIONS = 10_000_000


async def _no_sleep(_seconds: float) -> None:
    """The client's and the simulator's waits: a job takes no virtual time."""


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs what the daemon hands to a thread at once, in the loop's thread: the same run every time."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting coroutine, as a thread would
            future.set_exception(error)
        return future


def run_simulation(inputs: SimulationInput) -> SimulationRun:
    """Run ``inputs`` on a fresh event loop and return what happened.

    Raises :class:`~scaler.policy.PolicyError` when the policies cannot be loaded.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.set_default_executor(InlineExecutor(max_workers=1))
        return loop.run_until_complete(_Simulation(inputs).run())
    finally:
        loop.close()


@dataclass(frozen=True)
class _Due:
    """What is due at the next instant the clock jumps to."""

    instant: datetime
    wakeup: datetime | None
    """The daemon's next wake-up, as it was before the jump."""
    timed: datetime | None
    """The simulator's next change by itself, as it was before the jump."""
    reconcile_dirty: bool
    health_dirty: bool

    def decides(self, next_reconcile: datetime, until: datetime) -> bool:
        """Whether the daemon decides at this instant (a wake-up, a reconcile tick, or the end)."""
        instant = self.instant
        return (
            instant == until
            or (self.wakeup is not None and self.wakeup <= instant)
            or (self.reconcile_dirty and next_reconcile <= instant)
        )


class _Simulation:
    def __init__(self, inputs: SimulationInput) -> None:
        self.inputs = inputs
        self.clock = ManualClock(inputs.start)
        self.sim = SimState.from_seed(
            inputs.seed, clock=self.clock, sleep=_no_sleep, token=DEFAULT_TOKEN, org_id=DEFAULT_ORG_ID
        )
        self.metrics = Metrics(CollectorRegistry())
        settings = inputs.settings
        transport = PlatformTransport(self.sim)
        client = SimplismartClient.from_settings(
            settings,
            transport=transport,
            metrics=self.metrics,
            sleep=_no_sleep,
            limits=dataclasses.replace(Limits.from_settings(settings), max_requests_per_second=math.inf),
            retry=dataclasses.replace(RetryPolicy.from_settings(settings), wait_jitter_seconds=0.0),
        )
        self.store = open_store(settings.state_url)
        self.daemon = Daemon(
            settings=settings,
            client=client,
            store=self.store,
            metrics=self.metrics,
            clock=self.clock,
            monotonic=lambda: self.clock().timestamp(),
            policy_paths=inputs.policy_paths,
        )
        self.reconcile_every = timedelta(seconds=settings.reconcile_interval_seconds)
        self.health_every = timedelta(seconds=settings.health_interval_seconds)
        self.next_reconcile = inputs.start + self.reconcile_every
        self.next_health = inputs.start + self.health_every
        self.timeline = Timeline(self.sim, self.clock)
        self.health_changes = HealthChanges(self.sim)
        for event in inputs.events:
            self.timeline.script(event)
        self.world = 0
        """Grows whenever what the list shows may have changed (see :meth:`_notice`)."""
        self.health_world = 0
        """Grows whenever any answer may have changed: the list's, or a health answer (events, start-ups)."""
        self._revision = self.sim.revision
        self.reconciled_at_world = -1
        self.polled_at_world = -1
        self._events_applied = 0
        self._timed: tuple[tuple[int, int], datetime | None] | None = None
        """The simulator's last answer of :meth:`_next_timed_change`, with the revision and events it saw."""

    # --- Jobs ---------------------------------------------------------------------

    def _notice(self, *, health: bool = False) -> None:
        """Take note of a change of what the platform reports: a new simulator revision (the list, and
        health with it), or ``health`` answers alone (an event, a start-up completing)."""
        if self.sim.revision != self._revision:
            self._revision = self.sim.revision
            self.world += 1
            self.health_world += 1
        elif health:
            self.health_world += 1

    async def _reconcile(self, reason: str = "interval", *, everything: bool = False) -> None:
        before = dict(self.daemon.inventory.deployments)

        def changed() -> set[UUID] | None:
            return None if everything else shortcuts.worth_reconciling(self.daemon, before)

        await self.daemon.inventory_cycle(reason=reason, only=changed)
        self.reconciled_at_world = self.world
        self._notice()

    def _freshen_before(self, decision: datetime, tick: datetime) -> bool:
        """Whether the skipped health tick at ``tick`` runs before a decision at ``decision``.

        It does unless it would read the answers of the last poll and no health rule can act on
        its age: the daemon holds a health rule's plan while the health it saw is older than its
        maximum age, and only a deployment whose health rule is in force, or whose health is not
        Healthy, can have such a plan.
        """
        if self.health_changes.may_differ(self.daemon, tick):
            return True
        observed = self.health_changes.observed_at
        oldest = decision - self.daemon.reconciler.health_max_age
        return any(
            (at := observed.get(deployment_id)) is None or at < oldest
            for deployment_id in shortcuts.health_rules_may_act(self.daemon)
        )

    async def _poll(self, *, everything: bool = False) -> None:
        """Poll health: every deployment due (``everything``), or those whose answers may have changed."""
        only = self.health_changes.to_poll(self.daemon, self.clock(), everything=everything)
        await self.daemon.poll_health(only=only)
        self.polled_at_world = self.health_world
        self._notice()

    def _apply_events_due(self, instant: datetime) -> None:
        for touches in self.timeline.due(instant):
            self._events_applied += 1
            self.health_changes.touch(touches)
            self._notice(health=True)

    def _next_timed_change(self, now: datetime) -> datetime | None:
        """The simulator's next change by itself after ``now``. Its last answer stands while nothing has
        changed the simulator (no new revision, no event) and that change is still ahead."""
        seen = (self.sim.revision, self._events_applied)
        if self._timed is not None and self._timed[0] == seen:
            last = self._timed[1]
            if last is None or last > now:
                return last
        timed = self.sim.next_timed_change(now)
        self._timed = (seen, timed)
        return timed

    # --- The clock ------------------------------------------------------------------

    async def run(self) -> SimulationRun:
        inputs = self.inputs
        try:
            policy_set = self.daemon.load_policies()
            plan = await self._begin(policy_set)
            peaks = peak_windows(plan, policy_set)
            healthy = await self._run_until_the_end(peaks)
            await self._reconcile(reason="end", everything=True)
            actions = tuple(
                record
                for record in reversed(self.store.recent_actions(MAX_ACTIONS))
                if record.started_at < inputs.until and record.result != "pending"
            )
            return SimulationRun(
                start=inputs.start,
                until=inputs.until,
                policy_set=policy_set,
                plan=plan,
                actions=actions,
                ledger=self.sim.ledger,
                saved=_savings_counters(self.metrics),
                peaks=tuple(peaks),
                healthy_at_start=healthy,
                requests=self.sim.requests.total,
            )
        finally:
            await self.daemon.aclose()

    async def _begin(self, policy_set: PolicySet) -> Forecast:
        """Run the daemon's first cycle at the start; return ``plan``'s projection of the period."""
        start, until = self.inputs.start, self.inputs.until
        self._apply_events_due(start)
        # Found stopped before the daemon's first cycle: the plan counts no saving of the scaler's there.
        found_stopped = {UUID(item.deployment_id) for item in self.sim.deployments.values() if not item.running}
        await self._reconcile(reason="start", everything=True)
        listed = list(self.daemon.inventory.deployments.values())
        touched = {item.deployment_id for item in listed} - found_stopped
        return build_plan(policy_set, listed, start, until, touched=touched)

    async def _run_until_the_end(self, peaks: list[PeakWindow]) -> dict[tuple[str, datetime], bool]:
        """Jump from one due instant to the next until the end; return whether each peak window was
        Healthy at its nominal start."""
        start, until = self.inputs.start, self.inputs.until
        checkpoints = sorted({peak.nominal_start for peak in peaks if start < peak.nominal_start < until})
        by_instant: dict[datetime, list[PeakWindow]] = {}
        for peak in peaks:
            by_instant.setdefault(peak.nominal_start, []).append(peak)
        healthy: dict[tuple[str, datetime], bool] = {}
        while True:
            now = self.clock()
            while checkpoints and checkpoints[0] <= now:
                checkpoints.pop(0)
            due = self._next_due(now, checkpoints[0] if checkpoints else None)
            await self._catch_up_health(due)
            self.next_reconcile = _next_tick(
                self.next_reconcile, self.reconcile_every, due.instant, skip=not due.reconcile_dirty
            )
            self.next_health = _next_tick(self.next_health, self.health_every, due.instant, skip=not due.health_dirty)
            self.clock.set(due.instant)
            if due.timed is not None and due.timed <= due.instant:
                self.health_changes.timed(now, due.instant)
                self._notice(health=True)
            self._apply_events_due(due.instant)
            if due.instant >= until:
                return healthy
            await self._run_jobs_due(due)
            for peak in by_instant.get(due.instant, ()):
                healthy[(peak.deployment_id, due.instant)] = self._healthy(peak.deployment_id, due.instant)

    def _next_due(self, now: datetime, checkpoint: datetime | None) -> _Due:
        """The next instant something is due after ``now`` (at most the end), and what is."""
        reconciler = self.daemon.reconciler
        reconcile_dirty = self.reconciled_at_world != self.world
        health_dirty = bool(reconciler.health_held) or (
            self.polled_at_world != self.health_world and self.health_changes.may_differ(self.daemon, now)
        )
        wakeup = reconciler.next_wakeup(now)
        timed = self._next_timed_change(now)
        candidates = [
            self.inputs.until,
            wakeup,
            self.timeline.next_instant(),
            timed,
            self.next_reconcile if reconcile_dirty else None,
            self.next_health if health_dirty else None,
            checkpoint,
        ]
        instant = min(candidate for candidate in candidates if candidate is not None)
        return _Due(min(instant, self.inputs.until), wakeup, timed, reconcile_dirty, health_dirty)

    async def _catch_up_health(self, due: _Due) -> None:
        """Skipped health ticks move the grid on; the last one before a decision runs at its own instant."""
        if due.health_dirty or not due.decides(self.next_reconcile, self.inputs.until):
            return
        last_tick = _last_tick(self.next_health, self.health_every, due.instant)
        if last_tick is not None and self._freshen_before(due.instant, last_tick):
            self.clock.set(last_tick)
            await self._poll(everything=True)
            self.next_health = last_tick + self.health_every

    async def _run_jobs_due(self, due: _Due) -> None:
        """At one instant: the wake-up, then the reconcile job, then the health job."""
        if due.wakeup is not None and due.wakeup <= due.instant:
            await self.daemon.wake_up()
            self._notice()
        if self.next_reconcile == due.instant:
            await self._reconcile()
            self.next_reconcile += self.reconcile_every
        if self.next_health == due.instant:
            await self._poll()
            self.next_health += self.health_every

    def _healthy(self, deployment_id: str, instant: datetime) -> bool:
        """Whether the simulator would answer Healthy for the deployment at ``instant`` (its own truth)."""
        deployment = self.sim.deployments.get(deployment_id)
        if deployment is None:
            return False
        self.sim.settle_one(deployment, instant)
        answer = deployment.health_answer(instant) if deployment.is_up else None
        return answer is not None and answer.get("data") == "Healthy"


def _last_tick(first: datetime, every: timedelta, before: datetime) -> datetime | None:
    """The last tick of the grid ``first + k x every`` strictly before ``before`` (``None``: none)."""
    if first >= before:
        return None
    count = math.ceil((before - first) / every) - 1
    return first + count * every


def _next_tick(first: datetime, every: timedelta, instant: datetime, *, skip: bool) -> datetime:
    """The grid's next tick: ``first`` unless it is skipped (then the first tick at or after ``instant``)."""
    if not skip or first >= instant:
        return first
    count = math.ceil((instant - first) / every)
    return first + count * every


def _savings_counters(metrics: Metrics) -> dict[str, tuple[float, float]]:
    """Each deployment's ``scaler_gpu_seconds_saved_total`` and ``scaler_cost_saved_dollars_total``."""
    saved: dict[str, list[float]] = {}
    for family in metrics.registry.collect():
        column = {"scaler_gpu_seconds_saved": 0, "scaler_cost_saved_dollars": 1}.get(family.name)
        if column is None:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                saved.setdefault(sample.labels["deployment_id"], [0.0, 0.0])[column] = sample.value
    return {key: (values[0], values[1]) for key, values in saved.items()}

