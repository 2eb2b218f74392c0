"""The scheduler's wiring: its jobs and their settings, the boundary wake-up, events as metrics, stopping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from scaler.daemon.scheduler import JOB_FAILED, DaemonJobs, DaemonScheduler
from scaler.metrics import Metrics

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def idle() -> None:
    """A job that does nothing."""


def make_scheduler(metrics: Metrics, **jobs: object) -> DaemonScheduler:
    defaults: dict[str, object] = dict.fromkeys(("reconcile", "health", "boundary", "policies", "token", "probe"), idle)
    defaults.update(jobs)
    return DaemonScheduler(
        DaemonJobs(**defaults),  # type: ignore[arg-type]
        metrics=metrics,
        reconcile_interval_seconds=60,
        health_interval_seconds=30,
    )


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


async def test_every_job_has_its_interval_and_explicit_run_settings(metrics: Metrics) -> None:
    """Five recurring jobs in UTC, each with coalesce, max_instances 1 and a misfire grace of one interval."""
    scheduler = make_scheduler(metrics)
    scheduler.scheduler.start(paused=True)
    scheduler.add_jobs(NOW)
    try:
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
        assert {
            "reconcile": (60.0, 60, True, 1),
            "health": (30.0, 30, True, 1),
            "policies": (5.0, 5, True, 1),
            "token": (10.0, 10, True, 1),
            "probe": (10.0, 10, True, 1),
        } == {
            job_id: (job.trigger.interval.total_seconds(), job.misfire_grace_time, job.coalesce, job.max_instances)
            for job_id, job in jobs.items()
        }
        assert all(isinstance(job.trigger, IntervalTrigger) and job.trigger.timezone == UTC for job in jobs.values())
        assert NOW == jobs["reconcile"].next_run_time
        assert (NOW, NOW + timedelta(seconds=30)) == (
            jobs["reconcile"].trigger.start_date,
            jobs["health"].trigger.start_date,
        )
    finally:
        scheduler.scheduler.shutdown(wait=False)


async def test_the_wake_up_is_one_job_replaced_when_the_boundary_moves(metrics: Metrics) -> None:
    """Scheduling a new boundary replaces the previous one; None removes it."""
    scheduler = make_scheduler(metrics)
    scheduler.scheduler.start(paused=True)
    try:
        scheduler.schedule_wakeup(NOW + timedelta(hours=2))
        scheduler.schedule_wakeup(NOW + timedelta(minutes=7, seconds=30))
        planned = [
            (job.next_run_time, job.coalesce, job.max_instances, job.misfire_grace_time)
            for job in scheduler.wakeup_jobs()
        ]
        scheduler.schedule_wakeup(None)
        assert [(NOW + timedelta(minutes=7, seconds=30), True, 1, 60)] == planned
        assert [] == scheduler.wakeup_jobs()
    finally:
        scheduler.scheduler.shutdown(wait=False)


async def test_a_wake_up_due_while_an_earlier_one_still_runs_runs_too(metrics: Metrics) -> None:
    """The next boundary falls due while the last one's reconcile still waits: it runs as well, none is skipped."""
    first_started, second_ran = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def boundary() -> None:
        if not runs:
            runs.append("first")
            first_started.set()
            await second_ran.wait()  # still running until the next wake-up has run
        else:
            runs.append("second")
            second_ran.set()

    scheduler = make_scheduler(metrics, boundary=boundary)
    scheduler.scheduler.start()
    try:
        scheduler.schedule_wakeup(datetime.now(UTC))
        await asyncio.wait_for(first_started.wait(), 5)
        scheduler.schedule_wakeup(datetime.now(UTC))
        await asyncio.wait_for(second_ran.wait(), 5)
    finally:
        scheduler.scheduler.shutdown(wait=False)
    assert (["first", "second"], 0.0) == (
        runs,
        metrics.registry.get_sample_value("scaler_scheduler_events_total", {"event": "max_instances"}),
    )


def test_events_become_metrics_and_log_lines(metrics: Metrics) -> None:
    """executed, error, missed and max_instances each count once; all but executed are logged."""
    scheduler = make_scheduler(metrics)
    with structlog.testing.capture_logs() as logs:
        scheduler.on_event(JobExecutionEvent(EVENT_JOB_EXECUTED, "health", "default", NOW, retval=None))
        scheduler.on_event(JobExecutionEvent(EVENT_JOB_EXECUTED, "health", "default", NOW, retval=JOB_FAILED))
        scheduler.on_event(JobExecutionEvent(EVENT_JOB_ERROR, "health", "default", NOW, exception=RuntimeError("x")))
        scheduler.on_event(JobExecutionEvent(EVENT_JOB_MISSED, "reconcile", "default", NOW))
        scheduler.on_event(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "reconcile", "default", [NOW]))
    counts = {
        event: metrics.registry.get_sample_value("scaler_scheduler_events_total", {"event": event})
        for event in ("executed", "error", "missed", "max_instances")
    }
    assert {"executed": 1.0, "error": 2.0, "missed": 1.0, "max_instances": 1.0} == counts
    assert ["error", "error", "missed", "max_instances"] == [
        line["kind"] for line in logs if line["event"] == "scheduler_event"
    ]


async def test_a_failing_job_is_caught_logged_and_counted_and_the_loop_goes_on(metrics: Metrics) -> None:
    """A job that raises is logged as job_failed and counted as an error; the next job still runs."""
    ran = asyncio.Event()

    async def failing() -> None:
        raise RuntimeError("the platform exploded")

    async def succeeding() -> None:
        ran.set()

    scheduler = make_scheduler(metrics, reconcile=failing, health=succeeding)
    with structlog.testing.capture_logs() as logs:
        scheduler.scheduler.start()
        scheduler.scheduler.add_job(
            scheduler.run_job, args=("reconcile", failing), id="once-failing", next_run_time=datetime.now(UTC)
        )
        scheduler.scheduler.add_job(
            scheduler.run_job, args=("health", succeeding), id="once-succeeding", next_run_time=datetime.now(UTC)
        )
        await asyncio.wait_for(ran.wait(), 5)
        stopped = await scheduler.stop(timeout_seconds=5)
    failures = [line for line in logs if line["event"] == "job_failed"]
    assert stopped
    assert [("reconcile", "RuntimeError('the platform exploded')")] == [
        (line["job"], line["error"]) for line in failures
    ]
    assert 1.0 == metrics.registry.get_sample_value("scaler_scheduler_events_total", {"event": "error"})
    assert 1.0 == metrics.registry.get_sample_value("scaler_scheduler_events_total", {"event": "executed"})


async def test_stop_waits_for_running_jobs(metrics: Metrics) -> None:
    """stop() returns only after the job in flight finished, and reports that it did."""
    release = asyncio.Event()
    finished: list[str] = []

    async def slow() -> None:
        await release.wait()
        finished.append("slow")

    scheduler = make_scheduler(metrics)
    running = asyncio.create_task(scheduler.run_job("reconcile", slow))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(scheduler.stop(timeout_seconds=5))
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    assert await stopping
    await running
    assert ["slow"] == finished


async def test_a_failing_cycle_logs_its_failure_under_its_cycle_id(metrics: Metrics) -> None:
    """A reconcile job's own lines and its job_failed line carry one cycle_id; the next run gets another;
    a job that is no cycle (the policy check) gets none."""

    async def failing() -> None:
        structlog.get_logger().info("listing")
        raise RuntimeError("boom")

    async def checking() -> None:
        structlog.get_logger().info("checking")

    scheduler = make_scheduler(metrics, reconcile=failing, policies=checking)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        for _ in range(2):
            await scheduler.run_job("reconcile", failing)
        await scheduler.run_job("policies", checking)
    ids = [(line["event"], line.get("cycle_id"), line.get("cycle")) for line in logs]
    first, second = ids[0][1], ids[2][1]
    assert [
        ("listing", first, "reconcile"), ("job_failed", first, "reconcile"),
        ("listing", second, "reconcile"), ("job_failed", second, "reconcile"),
        ("checking", None, None),
    ] == ids
    assert (True, 12) == (first != second, len(str(first)))
