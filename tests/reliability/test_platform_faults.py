"""Scenario 1, platform faults: a day of schedules for 50 deployments on a platform that fails
a third of the time and goes down for a quarter of an hour.

The daemon runs as in production (APScheduler jobs, its client with retries, backoff,
Retry-After and the rate limiter, all settings at their defaults) on virtual time
(:mod:`tests.reliability.live`): the client's retry sleeps and the simulator's latency
cost no real time. Between the daemon and the simulator, every request attempt draws
(seeded) from :data:`FAULTS`: 503 before the platform acts, 502/504 after it acted,
timeouts before and after (the client's per-attempt deadline ends them), 429 with a
Retry-After, latency spikes, connections dropped before and after; and for
:data:`OUTAGE_MINUTES` every attempt fails. The same day without faults is the
reference. What must hold:

- **On time**: every transition the reference makes (a window boundary) reaches the
  platform within three reconcile intervals of the reference's instant (of the end of
  the outage, for a boundary inside it), in the same order; the platform ends the day in
  the reference's state.
- **Once**: no transition is applied twice. On the platform, a transition is a request
  that changes a deployment's state (running or not, replica bounds), followed from the
  seed through its request log; the sequence of them must be the reference's. In the
  audit log, a duplicate is two completed plans (the last step's record, which carries
  the target state) of one deployment establishing the same state with no change of
  the desired state between them (a change: a transition of the reference). The
  platform may receive a request that changes nothing: a retry after an answer lost on
  the way back, a plan's first step sent again by the next cycle after its second step
  failed, an ``update-replicas`` whose every attempt failed after one reached the
  platform sent again. They are idempotent and counted as re-sends, not duplicates.
- **No retry storm**: requests in any minute stay within :func:`request_bound`, derived
  from the settings: each call makes at most ``SCALER_API_RETRY_ATTEMPTS`` attempts,
  and a minute holds at most the lists, health fetches and actions the daemon's
  intervals and ``SCALER_MAX_ACTIONS_PER_CYCLE`` allow; never above
  ``SCALER_MAX_REQUESTS_PER_SECOND`` x 60.
- **Live and honest**: ``/healthz`` answers 200 all day; ``/readyz`` answers 503 naming
  the failing list during the outage, and 200 again within two reconcile intervals of
  its end; no job fails.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid5

import httpx
import pytest

from scaler.daemon.http import create_http_app
from scaler.settings import Settings
from scaler.sim.model import SeedDeployment, SeedDocument
from scaler.simplismart.limits import Limits
from tests.daemon.harness import MONDAY, at_utc
from tests.reliability.figures import ScenarioFigures, is_full, run_seed
from tests.reliability.live import Live, Network, live_daemon
from tests.reliability.platform_log import read_platform_log
from tests.structlog_level import structlog_level

pytestmark = pytest.mark.scenario(1)

#: The settings' defaults (the environment is not read): the daemon runs with them.
DEFAULTS = Settings.model_construct()

DEPLOYMENTS = 50 if is_full() else 20
#: The simulated run: a whole Monday (full), or three hours around the office opening (fast).
START = at_utc(MONDAY, "00:00") if is_full() else at_utc(MONDAY, "06:40")
LENGTH = timedelta(days=1) if is_full() else timedelta(hours=2, minutes=50)
#: When the platform is down for OUTAGE_MINUTES: every attempt answers 503.
OUTAGE_START = at_utc(MONDAY, "13:05") if is_full() else at_utc(MONDAY, "08:05")
OUTAGE_MINUTES = 15
#: Transitions at most this many reconcile intervals after their instant in the reference.
CYCLES_ALLOWED = 3
#: First sightings at the start (more than one cycle's worth of actions) are not window transitions.
WARM_UP = timedelta(minutes=10)

#: Per attempt: (probability, fault). The rest (about 52%) pass untouched.
FAULTS = (
    (0.20, "503 before"),
    (0.10, "502/504 after"),
    (0.025, "timeout before"),
    (0.025, "timeout after"),
    (0.05, "429"),
    (0.05, "latency spike"),
    (0.015, "drop before"),
    (0.015, "drop after"),
)

NAMESPACE = UUID("7c1d3a52-33f4-4d62-9d0b-6e0b3f1f4a21")

#: Five schedules, each governing the deployments whose names start with svc-N (N = 0..4).
POLICIES = """version: 1
policies:
  - name: office-berlin
    match: {names: ["svc-0*"]}
    timezone: Europe/Berlin
    default: stopped
    windows:
      - {name: office, between: "Mon-Fri 08:00-19:00", state: {min_replicas: 1, max_replicas: 3}}
  - name: night-new-york
    match: {names: ["svc-1*"]}
    timezone: America/New_York
    default: running
    windows:
      - {name: night, between: "22:00-06:00", state: stopped}
  - name: two-hourly-peak
    match: {names: ["svc-2*"]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: peak, cron: "0 */2 * * *", duration: 30m, state: {min_replicas: 2, max_replicas: 4}}
  - name: lunch-stop
    match: {names: ["svc-3*"]}
    timezone: Asia/Kolkata
    default: running
    windows:
      - {name: lunch, between: "12:00-13:30", state: stopped}
  - name: two-hourly-pause
    match: {names: ["svc-4*"]}
    default: running
    windows:
      - {name: pause, cron: "15 */2 * * *", duration: 20m, state: stopped}
"""


def fleet(count: int, rng: random.Random) -> SeedDocument:
    """``count`` deployments named svc-00.., running (a few SCALED_DOWN), spread over accelerators."""
    accelerators = ("nvidia-l4", "nvidia-a10g", "nvidia-tesla-t4", "nvidia-h100")
    deployments = []
    for index in range(count):
        name = f"svc-{index % 5}{index // 5}"
        running = rng.random() > 0.1
        deployments.append(
            SeedDeployment(
                deployment_id=str(uuid5(NAMESPACE, name)),
                deployment_name=name,
                model_repo_id=str(uuid5(NAMESPACE, f"repo-{index % 7}")),
                model_repo_name=f"repo-{index % 7}",
                accelerator_type=(accelerators[index % len(accelerators)],),
                accelerator_count=1 + index % 2,
                status="DEPLOYED" if running else "SCALED_DOWN",
                min_replicas=1,
                max_replicas=2,
                running=running,
                startup_seconds=float(rng.randint(20, 90)),
            )
        )
    return SeedDocument(deployments=tuple(deployments), source=f"<{count} deployments for scenario 1>")


def request_bound(settings: Settings, deployments: int) -> int:
    """The most requests any minute may see, from the settings (the bound the test asserts).

    In any 60 s: lists, at most one per reconcile interval plus one (a run late by its
    grace); health fetches, each deployment at most once per health interval plus one (a
    failed fetch is due again at the next poll); cycles that may act, the reconcile job's,
    one per distinct boundary instant (schedules have minute resolution: two) and one per
    health poll that saw a change; each cycle at most ``max_actions_per_cycle`` actions of
    at most two calls (a restart). Every call at most ``api_retry_attempts`` attempts.
    Never more than the rate limiter lets through.
    """
    per_minute = lambda interval: math.ceil(60 / interval) + 1  # noqa: E731 - a local formula
    lists = per_minute(settings.reconcile_interval_seconds)
    health = deployments * per_minute(settings.health_interval_seconds)
    cycles = per_minute(settings.reconcile_interval_seconds) + 2 + per_minute(settings.health_interval_seconds)
    actions = cycles * settings.max_actions_per_cycle * 2
    bound = settings.api_retry_attempts * (lists + health + actions)
    return min(bound, int(settings.max_requests_per_second * 60))


@dataclass
class Faulty:
    """The faults between the daemon and the platform: a seeded draw per attempt, and the outage."""

    rng: random.Random
    outage: tuple[datetime, datetime] | None
    counts: dict[str, int] = field(default_factory=dict)

    async def __call__(self, request: httpx.Request, network: Network) -> httpx.Response | None:
        now = network.time.now()
        if self.outage is not None and self.outage[0] <= now < self.outage[1]:
            return self._count("outage", httpx.Response(503, json={"detail": "Service Unavailable"}))
        draw, fault = self.rng.random(), None
        for probability, name in FAULTS:
            if draw < probability:
                fault = name
                break
            draw -= probability
        if fault is None:
            return None
        self.counts[fault] = self.counts.get(fault, 0) + 1
        if fault == "503 before":
            return httpx.Response(503, json={"detail": "Service temporarily unavailable"})
        if fault == "429":
            wait = self.rng.randint(1, 20)
            return httpx.Response(429, headers={"Retry-After": str(wait)}, json={"detail": "Request was throttled."})
        if fault == "timeout before":
            await asyncio.sleep(3600)  # the client's per-attempt deadline ends it
        if fault == "drop before":
            raise httpx.ConnectError("connection reset by peer", request=request)
        if fault == "latency spike":
            await asyncio.sleep(self.rng.uniform(1, 15))
            return None
        answer = await network.forward(request)  # the platform acts; what follows happens on the way back
        if fault == "502/504 after":
            status = self.rng.choice([502, 504])
            return httpx.Response(status, text="<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"})
        if fault == "timeout after":
            await asyncio.sleep(3600)
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=request)
        return answer  # pragma: no cover - unreachable, kept for the reader

    def _count(self, name: str, answer: httpx.Response) -> httpx.Response:
        self.counts[name] = self.counts.get(name, 0) + 1
        return answer


@dataclass(frozen=True)
class Transition:
    """One change of a deployment's state on the platform: the request that made it, when."""

    deployment: str
    action: str
    wall: datetime


@dataclass
class Day:
    """What one run did."""

    transitions: dict[str, list[Transition]]
    final: dict[str, tuple[str, int, int]]
    audit: dict[str, list[tuple[datetime, str]]]
    """Each deployment's completed transitions in the audit log: when decided, the state established."""
    per_minute: dict[datetime, int]
    requests: int
    resends: int
    readiness: list[tuple[datetime, bool, str]]
    liveness: list[tuple[datetime, bool]]
    http_readyz: list[tuple[datetime, int]]
    job_failures: list[str]
    settings: Settings


def transitions_of(live: Live, seed: SeedDocument) -> tuple[dict[str, list[Transition]], int]:
    """The state changes the platform went through, from its own request log
    (:mod:`tests.reliability.platform_log`), as transitions; and the re-sends."""
    platform = read_platform_log(live.harness.sim.requests, seed)
    grouped = {
        name: [Transition(name, change.action, change.at) for change in changes]
        for name, changes in platform.changes.items()
        if changes
    }
    return grouped, platform.resends


async def play(tmp_path: Path, *, faults: Faulty | None) -> Day:
    """Run the day; sample liveness and readiness every 30 s and /readyz every 5 minutes."""
    seed = fleet(DEPLOYMENTS, random.Random(run_seed()))
    async with live_daemon(
        tmp_path,
        policies=POLICIES,
        start=START,
        seed=seed,
        fault=faults,
        client_options={"limits": Limits(max_requests_per_second=DEFAULTS.max_requests_per_second)},
        max_requests_per_second=DEFAULTS.max_requests_per_second,
        api_retry_attempts=DEFAULTS.api_retry_attempts,
    ) as live:
        app = create_http_app(live.harness.daemon, live.harness.metrics)
        readiness, liveness, http_readyz = [], [], []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon") as http:
            end = START + LENGTH
            tick = 0
            while live.time.now() < end:
                await live.time.sleep_for(30)
                ready, checks = live.harness.daemon.readiness()
                readiness.append((live.time.now(), ready, str(checks["api"]["detail"])))
                liveness.append((live.time.now(), live.harness.daemon.liveness()[0]))
                if tick % 10 == 0:
                    http_readyz.append((live.time.now(), (await http.get("/readyz")).status_code))
                tick += 1
        transitions, resends = transitions_of(live, seed)
        per_minute: dict[datetime, int] = {}
        for sent in live.network.sent:
            minute = sent.wall.replace(second=0, microsecond=0)
            per_minute[minute] = per_minute.get(minute, 0) + 1
        audit: dict[str, list[tuple[datetime, str]]] = {}
        for record in live.harness.audit(results=["success"]):
            target = record.parameters.get("target")
            if isinstance(target, str):  # the last step of a plan: the transition completed
                audit.setdefault(record.deployment_name, []).append((record.started_at, target))
        failures = []
        sim = live.harness.sim
        sim.settle(sim.now())
        final = {d.deployment_name: (d.status, d.min_replicas, d.max_replicas) for d in sim.deployments.values()}
        errors = live.job_errors()
        if errors:
            failures.append(f"{errors:.0f} jobs failed")
        return Day(
            transitions=transitions,
            final=final,
            audit=audit,
            per_minute=per_minute,
            requests=len(live.network.sent),
            resends=resends,
            readiness=readiness,
            liveness=liveness,
            http_readyz=http_readyz,
            job_failures=failures,
            settings=live.harness.settings,
        )


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Only errors are rendered (a day of retries logs a great deal)."""
    with structlog_level(logging.ERROR):
        yield


async def test_a_day_of_platform_faults_delays_no_transition_beyond_three_cycles_and_repeats_none(
    tmp_path: Path, figures: ScenarioFigures
) -> None:
    """The faulty day against the reference day: order, timeliness, final state, audit duplicates, request rate,
    liveness and readiness (see the module's docstring)."""
    reference = await play(tmp_path / "reference", faults=None)
    outage = (OUTAGE_START, OUTAGE_START + timedelta(minutes=OUTAGE_MINUTES))
    faulty = Faulty(random.Random(run_seed()), outage)
    day = await play(tmp_path / "faults", faults=faulty)
    settings = day.settings
    allowed = timedelta(seconds=CYCLES_ALLOWED * settings.reconcile_interval_seconds)
    problems: list[str] = []

    late = missing = extra = 0
    for name in sorted(set(reference.transitions) | set(day.transitions)):
        wanted = [transition.action for transition in reference.transitions.get(name, [])]
        made = [transition.action for transition in day.transitions.get(name, [])]
        if wanted != made:
            problems.append(f"{name}: transitions {made}, expected {wanted}")
            missing += max(0, len(wanted) - len(made))
            extra += max(0, len(made) - len(wanted))
            continue
        for want, got in zip(reference.transitions[name], day.transitions[name], strict=True):
            if want.wall < START + WARM_UP:
                continue
            due = max(want.wall, outage[1] if outage[0] <= want.wall < outage[1] else want.wall) + allowed
            if got.wall > due:
                late += 1
                problems.append(f"{name}: {got.action} at {got.wall:%H:%M:%S}, due by {due:%H:%M:%S}")
    if day.final != reference.final:
        problems.append(f"final state {day.final} differs from the reference's {reference.final}")

    duplicates = 0
    for name, records in day.audit.items():
        changes = [transition.wall for transition in reference.transitions.get(name, [])]
        for (before_at, before), (after_at, after) in zip(records, records[1:], strict=False):
            changed = any(before_at < change <= after_at for change in changes)
            if before == after and not changed:
                duplicates += 1
                problems.append(f"{name}: {after} established at {before_at:%H:%M:%S} and again at {after_at:%H:%M:%S}")

    bound = request_bound(settings, DEPLOYMENTS)
    peak = max(day.per_minute.values())
    if peak > bound:
        problems.append(f"{peak} requests in one minute, above the bound of {bound}")

    if not all(alive for _, alive in day.liveness):
        problems.append(f"liveness false at {[f'{at:%H:%M:%S}' for at, alive in day.liveness if not alive]}")
    during = [
        (at, ready, detail)
        for at, ready, detail in day.readiness
        if outage[0] + timedelta(seconds=settings.reconcile_interval_seconds + 30) <= at < outage[1]
    ]
    after = [
        ready
        for at, ready, _ in day.readiness
        if outage[1] + timedelta(seconds=2 * settings.reconcile_interval_seconds) <= at
        < outage[1] + timedelta(seconds=2 * settings.reconcile_interval_seconds + 300)
    ]
    if not during or any(ready or detail != "the last list of the deployments failed" for _, ready, detail in during):
        problems.append(f"readiness during the outage: {during}")
    if not after or not all(after):
        problems.append(f"readiness after the outage: {after}")
    statuses = {status for at, status in day.http_readyz if outage[0] + timedelta(minutes=2) <= at < outage[1]}
    if statuses != {503}:
        problems.append(f"/readyz during the outage answered {statuses}")
    problems += day.job_failures + reference.job_failures

    expected = sum(len(items) for items in reference.transitions.values())
    applied = sum(len(items) for items in day.transitions.values())
    figures.add(
        cases=day.requests,
        faults=sum(faulty.counts.values()),
        actions_expected=expected,
        actions_applied=applied,
        duplicates=duplicates + extra,
        losses=missing + late,
        crashes=len(day.job_failures),
    )
    figures.note(
        f"{day.requests:,} requests ({reference.requests:,} without faults), peak {peak}/min "
        f"({max(reference.per_minute.values())}/min without faults; bound {bound}), {day.resends} re-sends, "
        f"faults {dict(sorted(faulty.counts.items()))}"
    )
    assert [] == problems
