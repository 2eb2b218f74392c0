"""The daemon's jobs on APScheduler 3.11's ``AsyncIOScheduler``, and its events as metrics.

Jobs (every one with an explicit ``misfire_grace_time``, ``coalesce=True`` and
``max_instances=1``, in UTC):

==============  ======================================  =====================================
job             when                                    what
==============  ======================================  =====================================
``reconcile``   every reconcile interval, first at      list the deployments, reconcile all
                start
``health``      every health interval                   poll health by the polling rule;
                                                        reconcile those whose health changed
``boundary-N``  once, at the next instant any answer    reconcile the deployments due (no list:
                changes; replaced whenever that         the last inventory, so the call leaves
                instant changes                         at the boundary, not after a list)
``policies``    every 5 s                               reload the policy files if they changed
``token``       every 10 s                              re-read the token file; a new token
                                                        while the token is refused probes at once
``probe``       every 10 s                              the token probe, when due
``exceptions``  every second                            reconcile at once when a person's
                                                        exception was created or ended
``notify``      every second (with webhooks only)       hand the notices due to the webhooks'
                                                        senders (:mod:`scaler.daemon.notify`)
==============  ======================================  =====================================

Each wake-up is a job of its own (``boundary-1``, ``boundary-2``, ...), so one that falls
due while an earlier one still runs (its calls in flight, or waiting for a full cycle
to release the reconciler's lock) runs too, rather than being skipped by
``max_instances``; the reconciles take turns on the reconciler's lock.

Every job catches, logs and counts its own exceptions (it returns :data:`JOB_FAILED`),
so one failure never stops the loop. A listener turns APScheduler's events into
``scaler_scheduler_events_total{event}`` (``executed``, ``error``, ``missed``,
``max_instances``) and logs every event but ``executed``.

Clock steps: APScheduler 3 plans on the wall clock, so when the wall clock steps back
by an hour (an NTP correction) every recurring job would wait an hour for its next
run: no list, no health poll, no policy reload, no token re-read. A watchdog on the
monotonic clock compares it with the wall clock every :data:`CLOCK_CHECK_SECONDS`;
a step of :data:`CLOCK_STEP_SECONDS` or more either way is logged (``clock_jumped``),
counted in ``scaler_clock_jumps_total{direction}``, and the recurring jobs are planned
again from the new wall clock, the reconcile job at once. The boundary wake-up keeps
its wall-clock instant: a boundary is a wall-clock fact.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scaler.daemon.policy_reload import POLICY_CHECK_SECONDS
from scaler.logs import cycle_logging
from scaler.metrics import Metrics

log = structlog.get_logger()

#: What a job returns when it failed (its exception was caught, logged and counted by the wrapper).
JOB_FAILED = "job-failed"
#: The jobs whose runs are cycles: each binds a ``cycle_id`` to its log lines (see :func:`scaler.logs.cycle_logging`).
CYCLE_JOBS = ("reconcile", "health", "boundary")
#: Seconds between checks of the token file.
TOKEN_CHECK_SECONDS = 10.0
#: Seconds between checks whether the token probe is due.
PROBE_CHECK_SECONDS = 10.0
#: Seconds between checks for exceptions created or ended (through any replica or the CLI).
EXCEPTIONS_CHECK_SECONDS = 1.0
#: Seconds between checks for notices due (:data:`scaler.daemon.notify.watch.CHECK_SECONDS`).
NOTIFY_CHECK_SECONDS = 1.0
#: Seconds (monotonic) between comparisons of the wall clock with the monotonic clock.
CLOCK_CHECK_SECONDS = 2.0
#: A change of the wall clock's offset from the monotonic clock this large is a step, in seconds.
#: NTP slews errors below 128 ms and drifts by at most 0.5 ms a second; a second is a step.
CLOCK_STEP_SECONDS = 1.0

Job = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class DaemonJobs:
    """The coroutine functions the scheduler runs."""

    reconcile: Job
    health: Job
    boundary: Job
    policies: Job
    token: Job
    probe: Job
    exceptions: Job | None = None
    notify: Job | None = None


@dataclass(frozen=True)
class JobTiming:
    """When a recurring job runs and how late it may start."""

    interval_seconds: float
    misfire_grace_seconds: float
    first_run_now: bool = False


def job_timings(*, reconcile_interval_seconds: float, health_interval_seconds: float) -> dict[str, JobTiming]:
    """Return the timing of every recurring job.

    A run may start up to one interval late (a paused VM, a busy loop) and still run;
    later than that the next one is due anyway (``coalesce`` folds missed runs into one).
    """
    return {
        "reconcile": JobTiming(reconcile_interval_seconds, reconcile_interval_seconds, first_run_now=True),
        "health": JobTiming(health_interval_seconds, health_interval_seconds),
        "policies": JobTiming(POLICY_CHECK_SECONDS, POLICY_CHECK_SECONDS),
        "token": JobTiming(TOKEN_CHECK_SECONDS, TOKEN_CHECK_SECONDS),
        "probe": JobTiming(PROBE_CHECK_SECONDS, PROBE_CHECK_SECONDS),
        "exceptions": JobTiming(EXCEPTIONS_CHECK_SECONDS, EXCEPTIONS_CHECK_SECONDS),
        "notify": JobTiming(NOTIFY_CHECK_SECONDS, NOTIFY_CHECK_SECONDS),
    }


EVENT_NAMES = {
    EVENT_JOB_EXECUTED: "executed",
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "max_instances",
}


class DaemonScheduler:
    """The daemon's ``AsyncIOScheduler``: its jobs, the boundary wake-up and the event metrics."""

    def __init__(
        self,
        jobs: DaemonJobs,
        *,
        metrics: Metrics,
        reconcile_interval_seconds: float,
        health_interval_seconds: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Plan ``jobs``; ``wall`` is the wall clock in Unix seconds, compared with the loop's
        monotonic clock to notice steps."""
        self._jobs = jobs
        self._metrics = metrics
        self._wall = wall
        self._offset: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.timings = job_timings(
            reconcile_interval_seconds=reconcile_interval_seconds, health_interval_seconds=health_interval_seconds
        )
        self.boundary_misfire_grace_seconds = max(reconcile_interval_seconds, 60.0)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 1},
        )
        self.scheduler.add_listener(
            self.on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        self.wakeup_at: datetime | None = None
        self._wakeup_job: str | None = None
        """The id of the wake-up planned and not fired yet."""
        self._wakeups = 0
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # --- Jobs -------------------------------------------------------------------

    def add_jobs(self, now: datetime) -> None:
        """Add the recurring jobs: the reconcile job runs first at ``now``, the others one interval later."""
        for name, timing in self.timings.items():
            if getattr(self._jobs, name) is None:
                continue
            # APScheduler reads next_run_time=None as "paused": pass it only for a first run now.
            first_run: dict[str, Any] = {"next_run_time": now} if timing.first_run_now else {}
            start = now if timing.first_run_now else now + timedelta(seconds=timing.interval_seconds)
            self.scheduler.add_job(
                self.run_job,
                trigger=IntervalTrigger(seconds=timing.interval_seconds, timezone=UTC, start_date=start),
                args=(name, getattr(self._jobs, name)),
                id=name,
                name=name,
                replace_existing=True,
                misfire_grace_time=int(max(timing.misfire_grace_seconds, 1)),
                coalesce=True,
                max_instances=1,
                **first_run,
            )

    def start(self, now: datetime) -> None:
        """Add the jobs, start the scheduler and the clock watchdog; call from inside the running event loop."""
        self.add_jobs(now)
        self.scheduler.start()
        loop = asyncio.get_running_loop()
        self._offset = self._wall() - loop.time()
        self._watchdog = loop.call_later(CLOCK_CHECK_SECONDS, self.check_clock)

    def check_clock(self) -> float:
        """Compare the wall clock with the monotonic one; re-plan the jobs after a step. Return the step, in seconds.

        Runs every :data:`CLOCK_CHECK_SECONDS` once started (plain loop timers, which a
        step of the wall clock does not delay).
        """
        loop = asyncio.get_running_loop()
        offset = self._wall() - loop.time()
        step = 0.0 if self._offset is None else offset - self._offset
        self._offset = offset
        if abs(step) >= CLOCK_STEP_SECONDS:
            self.clock_stepped(step)
        if self.scheduler.running:
            self._watchdog = loop.call_later(CLOCK_CHECK_SECONDS, self.check_clock)
        return step

    def clock_stepped(self, step: float) -> None:
        """The wall clock stepped by ``step`` seconds: log and count it, plan the recurring jobs again from now."""
        direction = "forward" if step > 0 else "backward"
        self._metrics.clock_jumps.labels(direction=direction).inc()
        log.warning(
            "clock_jumped",
            direction=direction,
            seconds=round(step, 3),
            effect="recurring jobs planned again from the new wall clock; reconciling now",
        )
        if self.scheduler.running:
            self.add_jobs(datetime.fromtimestamp(self._wall(), UTC))

    def run_now(self, name: str) -> None:
        """Bring the next run of the recurring job ``name`` forward to now (it then keeps its interval).

        A run in progress is not doubled: ``max_instances=1`` skips the extra one.
        """
        if self.scheduler.running and self.scheduler.get_job(name) is not None:
            self.scheduler.modify_job(name, next_run_time=datetime.now(UTC))

    def schedule_wakeup(self, at: datetime | None) -> None:
        """Run a ``boundary`` job exactly at ``at``, replacing the one planned and not fired yet; ``None``
        cancels it. A wake-up already running is not affected."""
        if at == self.wakeup_at:
            return
        self.wakeup_at = at
        if self._wakeup_job is not None and self.scheduler.get_job(self._wakeup_job) is not None:
            self.scheduler.remove_job(self._wakeup_job)
        self._wakeup_job = None
        if at is None:
            return
        self._wakeups += 1
        job_id = f"boundary-{self._wakeups}"
        self.scheduler.add_job(
            self._boundary,
            trigger=DateTrigger(run_date=at, timezone=UTC),
            args=(job_id,),
            id=job_id,
            name="boundary",
            misfire_grace_time=int(self.boundary_misfire_grace_seconds),
            coalesce=True,
            max_instances=1,
        )
        self._wakeup_job = job_id

    def wakeup_jobs(self) -> list[Any]:
        """The wake-ups planned and not fired yet (at most one)."""
        return [job for job in self.scheduler.get_jobs() if job.name == "boundary"]

    async def _boundary(self, job_id: str) -> Any:
        if job_id == self._wakeup_job:
            self._wakeup_job = None
            self.wakeup_at = None
        return await self.run_job("boundary", self._jobs.boundary)

    async def run_job(self, name: str, job: Job) -> Any:
        """Run ``job``; catch, log and count its failure (return :data:`JOB_FAILED`)."""
        self._running += 1
        self._idle.clear()
        try:
            # One cycle's lines, its failure included, share a cycle_id (the daemon's own jobs bind one too,
            # for the paths that do not go through here).
            with cycle_logging(name) if name in CYCLE_JOBS else nullcontext():
                try:
                    return await job()
                except Exception as error:
                    log.error("job_failed", job=name, error=repr(error), exc_info=error)
                    return JOB_FAILED
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    # --- Events -------------------------------------------------------------------

    def on_event(self, event: JobEvent) -> None:
        """Count an APScheduler job event in ``scaler_scheduler_events_total`` and log all but successes."""
        name = EVENT_NAMES.get(event.code)
        if name is None:
            return
        if name == "executed" and getattr(event, "retval", None) == JOB_FAILED:
            name = "error"
        self._metrics.scheduler_events.labels(event=name).inc()
        if name == "executed":
            return
        fields: dict[str, Any] = {"kind": name, "job": event.job_id}
        scheduled = getattr(event, "scheduled_run_time", None) or getattr(event, "scheduled_run_times", None)
        if scheduled is not None:
            fields["scheduled_run_time"] = str(scheduled)
        exception = getattr(event, "exception", None)
        if exception is not None:
            fields["error"] = repr(exception)
        log.warning("scheduler_event", **fields)

    # --- Stopping -------------------------------------------------------------------

    async def stop(self, *, timeout_seconds: float) -> bool:
        """Stop starting jobs, wait up to ``timeout_seconds`` for running ones, then shut down.

        Returns whether every running job finished in time (those that did not are cancelled).
        """
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.scheduler.running:
            self.scheduler.pause()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_seconds)
            finished = True
        except TimeoutError:
            finished = False
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        return finished
