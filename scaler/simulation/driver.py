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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry

from scaler.daemon.service import Daemon
from scaler.metrics import Metrics
from scaler.policy import PolicySet
from scaler.policy.forecast import Forecast
from scaler.policy.plan import build_plan
from scaler.settings import Settings
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.clock import ManualClock
from scaler.sim.inprocess import PlatformTransport
from scaler.sim.ledger import GpuLedger
from scaler.sim.model import HealthAnswer, SeedDocument
from scaler.sim.state import SimState
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.retries import RetryPolicy
from scaler.simplismart.models import Deployment, HealthStatus
from scaler.simulation.answers import HealthChanges
from scaler.simulation.events import ScriptedEvent
from scaler.simulation.readiness import PeakWindow, peak_windows
from scaler.store import ActionRecord, open_store

#: The settings every simulation overrides: the simulator's address and identity, a throw-away store, and
#: no idle health polls (the health of deployments without health rules only feeds /status and metrics).
SIMULATION_SETTINGS: dict[str, Any] = {
    "health_idle_interval_seconds": 0.0,
    "api_url": "http://simulator",
    "api_token": DEFAULT_TOKEN,
    "api_token_file": None,
    "org_id": DEFAULT_ORG_ID,
    "state_url": "sqlite:///:memory:",
    "state_url_file": None,
}
#: Health values no health rule acts on.
QUIET_HEALTH = frozenset({HealthStatus.HEALTHY.value, HealthStatus.SCALED_DOWN.value})
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


@dataclass(frozen=True)
class SimulationInput:
    """What one simulation runs: an organization, policies, a period, events and the daemon's settings."""

    seed: SeedDocument
    policy_paths: tuple[Path, ...]
    start: datetime
    until: datetime
    settings: Settings
    events: tuple[ScriptedEvent, ...] = ()


@dataclass(frozen=True)
class SimulationRun:
    """What happened: the plan for the period, the actions, the ledger, the counters and peak readiness."""

    start: datetime
    until: datetime
    policy_set: PolicySet
    plan: Forecast
    actions: tuple[ActionRecord, ...]
    ledger: GpuLedger
    saved: dict[str, tuple[float, float]]
    """Each deployment's savings counters at the end: (GPU-seconds, dollars)."""
    peaks: tuple[PeakWindow, ...]
    healthy_at_start: dict[tuple[str, datetime], bool]
    """For each peak window (deployment id, nominal start): whether it was Healthy then."""
    requests: int
    """Platform requests the daemon sent."""


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
        self.pending: list[tuple[datetime, int, Callable[[], None], str | None]] = []
        self.health_changes = HealthChanges(self.sim)
        self._sequence = 0
        for event in inputs.events:
            self._script(event)
        self.world = 0
        """Grows whenever what the list shows may have changed (see :meth:`_notice`)."""
        self.health_world = 0
        """Grows whenever any answer may have changed: the list's, or a health answer (events, start-ups)."""
        self._revision = self.sim.revision
        self.reconciled_at_world = -1
        self.polled_at_world = -1

    # --- Events -------------------------------------------------------------------

    def _at(self, instant: datetime, action: Callable[[], None], touches: str | None = None) -> None:
        """Run ``action`` at ``instant``; it changes the health answers of ``touches`` (``None``: maybe anyone's)."""
        self._sequence += 1
        self.pending.append((instant, self._sequence, action, touches))
        self.pending.sort(key=lambda item: (item[0], item[1]))

    def _script(self, event: ScriptedEvent) -> None:
        sim = self.sim
        if event.kind == "health":
            deployment = sim.deployments[event.deployment_id or ""]
            answer = HealthAnswer(event.value)

            def set_health() -> None:
                sim.set_health(deployment, answer)

            def clear_health() -> None:
                if deployment.health is answer:  # a stop or a restart has cleared it already
                    sim.set_health(deployment, None)

            self._at(event.at, set_health, deployment.deployment_id)
            if event.lasts is not None:
                self._at(event.at + event.lasts, clear_health, deployment.deployment_id)
        elif event.kind == "startup":
            deployment = sim.deployments[event.deployment_id or ""]

            def set_startup() -> None:
                deployment.startup_seconds = float(event.value)
                sim.timing_changed(deployment, self.clock())

            self._at(event.at, set_startup, deployment.deployment_id)
        elif event.kind == "quota":
            previous: dict[str, int | None] = {}

            def set_quotas() -> None:
                for name, gpus in event.value.items():
                    previous[name] = sim.quotas.get(name)
                    _set_quota(sim, name, gpus)

            def restore_quotas() -> None:
                for name, gpus in previous.items():
                    _set_quota(sim, name, gpus)

            self._at(event.at, set_quotas)
            if event.lasts is not None:
                self._at(event.at + event.lasts, restore_quotas)
        else:
            blocked = event.value == "blocked"

            def set_wallet() -> None:
                sim.wallet_blocked = blocked

            def unblock() -> None:
                sim.wallet_blocked = False

            self._at(event.at, set_wallet)
            if blocked and event.lasts is not None:
                self._at(event.at + event.lasts, unblock)

    # --- Running ---------------------------------------------------------------------

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
            return None if everything else _worth_reconciling(self.daemon, before)

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
            for deployment_id in _health_rules_may_act(self.daemon)
        )

    async def _poll(self, *, everything: bool = False) -> None:
        """Poll health: every deployment due (``everything``), or those whose answers may have changed."""
        only = self.health_changes.to_poll(self.daemon, self.clock(), everything=everything)
        await self.daemon.poll_health(only=only)
        self.polled_at_world = self.health_world
        self._notice()

    async def run(self) -> SimulationRun:
        inputs = self.inputs
        start, until = inputs.start, inputs.until
        daemon = self.daemon
        try:
            policy_set = daemon.load_policies()
            self._apply_events_due(start)
            # Found stopped before the daemon's first cycle: the plan counts no saving of the scaler's there.
            found_stopped = {UUID(item.deployment_id) for item in self.sim.deployments.values() if not item.running}
            await self._reconcile(reason="start", everything=True)
            listed = list(daemon.inventory.deployments.values())
            touched = {item.deployment_id for item in listed} - found_stopped
            plan = build_plan(policy_set, listed, start, until, touched=touched)
            peaks = peak_windows(plan, policy_set)
            checkpoints = sorted({peak.nominal_start for peak in peaks if start < peak.nominal_start < until})
            healthy: dict[tuple[str, datetime], bool] = {}
            by_instant: dict[datetime, list[PeakWindow]] = {}
            for peak in peaks:
                by_instant.setdefault(peak.nominal_start, []).append(peak)
            next_reconcile = start + self.reconcile_every
            next_health = start + self.health_every
            while True:
                now = self.clock()
                reconcile_dirty = self.reconciled_at_world != self.world
                health_dirty = bool(daemon.reconciler.health_held) or (
                    self.polled_at_world != self.health_world and self.health_changes.may_differ(daemon, now)
                )
                wakeup = daemon.reconciler.next_wakeup(now)
                candidates = [until]
                if wakeup is not None:
                    candidates.append(wakeup)
                if self.pending:
                    candidates.append(self.pending[0][0])
                timed = self.sim.next_timed_change(now)
                if timed is not None:
                    candidates.append(timed)
                if reconcile_dirty:
                    candidates.append(next_reconcile)
                if health_dirty:
                    candidates.append(next_health)
                while checkpoints and checkpoints[0] <= now:
                    checkpoints.pop(0)
                if checkpoints:
                    candidates.append(checkpoints[0])
                instant = min(candidates)
                if instant > until:
                    instant = until
                # Skipped ticks: move the grids on; the last health tick before a decision runs.
                decides = instant == until or (wakeup is not None and wakeup <= instant) or (
                    reconcile_dirty and next_reconcile <= instant
                )
                if not health_dirty and decides:
                    last_tick = _last_tick(next_health, self.health_every, instant)
                    if last_tick is not None and self._freshen_before(instant, last_tick):
                        self.clock.set(last_tick)
                        await self._poll(everything=True)
                        next_health = last_tick + self.health_every
                next_reconcile = _next_tick(next_reconcile, self.reconcile_every, instant, skip=not reconcile_dirty)
                next_health = _next_tick(next_health, self.health_every, instant, skip=not health_dirty)
                self.clock.set(instant)
                if timed is not None and timed <= instant:
                    self.health_changes.timed(now, instant)
                    self._notice(health=True)
                self._apply_events_due(instant)
                if instant >= until:
                    break
                if wakeup is not None and wakeup <= instant:
                    await daemon.wake_up()
                    self._notice()
                if next_reconcile == instant:
                    await self._reconcile()
                    next_reconcile += self.reconcile_every
                if next_health == instant:
                    await self._poll()
                    next_health += self.health_every
                for peak in by_instant.get(instant, ()):
                    healthy[(peak.deployment_id, instant)] = self._healthy(peak.deployment_id, instant)
            await self._reconcile(reason="end", everything=True)
            actions = tuple(
                record
                for record in reversed(self.store.recent_actions(MAX_ACTIONS))
                if record.started_at < until and record.result != "pending"
            )
            return SimulationRun(
                start=start,
                until=until,
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
            await daemon.aclose()

    def _apply_events_due(self, instant: datetime) -> None:
        while self.pending and self.pending[0][0] <= instant:
            _, _, action, touches = self.pending.pop(0)
            action()
            self.health_changes.touch(touches)
            self._notice(health=True)

    def _healthy(self, deployment_id: str, instant: datetime) -> bool:
        """Whether the simulator would answer Healthy for the deployment at ``instant`` (its own truth)."""
        deployment = self.sim.deployments.get(deployment_id)
        if deployment is None:
            return False
        self.sim.settle_one(deployment, instant)
        answer = deployment.health_answer(instant) if deployment.is_up else None
        return answer is not None and answer.get("data") == "Healthy"


def _health_rules_may_act(daemon: Daemon) -> set[UUID]:
    """The deployments governed by health rules with one in force, a restart due, or health that is
    not Healthy (or not yet read)."""
    chosen = set()
    for deployment_id in daemon.intake.watched():
        view = daemon.board.views.get(deployment_id)
        if (
            view is None
            or view.resolution is None
            or view.health is None
            or view.resolution.source.startswith("health:")
            or view.resolution.restart_due is not None
            or view.health.value not in QUIET_HEALTH
        ):
            chosen.add(deployment_id)
    return chosen


def _worth_reconciling(daemon: Daemon, before: Mapping[UUID, Deployment]) -> set[UUID] | None:
    """The deployments a cycle after a list can decide anything new for (``None``: all of them).

    The others are listed as they were, decided nothing to do last time, have no plan
    waiting and wait for no health answer: their answer changes only at a boundary, a
    health change or a backoff's end, and the daemon reconciles those itself. Everything is
    reconciled when a deployment appeared or went, or one has not been decided for.
    """
    after = daemon.inventory.deployments
    if before.keys() != after.keys():
        return None
    chosen = daemon.reconciler.health_held | (daemon.executor.waiting_deployments & after.keys())
    for deployment_id, deployment in after.items():
        view = daemon.board.views.get(deployment_id)
        if view is None or view.decision is None or view.error is not None:
            return None
        if view.decision.plans or before[deployment_id] != deployment:
            chosen.add(deployment_id)
    return chosen


def _set_quota(sim: SimState, accelerator: str, gpus: int | None) -> None:
    if gpus is None:
        sim.quotas.pop(accelerator, None)
    else:
        sim.quotas[accelerator] = gpus


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


def listed_deployments(run: SimulationRun) -> Iterable[Deployment]:
    """The deployments the simulation covered (the plan's, in name order)."""
    return (entry.deployment for entry in run.plan.deployments)
