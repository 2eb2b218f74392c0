"""Scenario 3, clock jumps: the wall clock stepping an hour forward or back around a boundary
neither repeats a transition nor skips one.

The daemon runs as in production (its APScheduler jobs, boundary wake-ups included) on
virtual time (:mod:`tests.reliability.live`), over policies with a boundary every 15 to
30 minutes. A script steps the wall clock (not the monotonic clock, as NTP or a VM resume
does) at chosen moments around boundaries, sometimes restarts the daemon while the clock
is behind, and the run is compared with a reference run of the same policies without
jumps: the same calls, in the same order, each made as soon as the daemon's time (the
latest wall-clock instant seen: it never goes back) reached the moment the reference
made it, give or take the clock watchdog's period.

What the daemon must do, and the reasons:

- **Forward** (a VM resumed, NTP correcting a slow clock): the boundaries passed are
  caught up at once, each applied once (APScheduler's boundary job is "missed", the
  reconcile job planned again from the new clock applies it).
- **Backward** (NTP correcting a fast clock): nothing is undone and redone. A transition
  applied at 08:00 is not reversed at 07:05 and applied again at 08:00; the daemon's time
  waits at the latest instant it used until the wall clock passes it. A wake-up planned
  before the step keeps its wall-clock instant (a boundary is a wall-clock fact) and
  fires when the wall clock reaches it. The recurring jobs are planned again at once
  (APScheduler would otherwise wait an hour for the next run of each).
- **A restart while the clock is behind** holds the same way, from what the store remembers.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from scaler.daemon.scheduler import CLOCK_CHECK_SECONDS
from tests.daemon.harness import MONDAY, at_utc
from tests.daemon.policies import NIGHT, OFFICE, document
from tests.reliability.figures import ScenarioFigures, is_full, run_seed, scaled
from tests.reliability.live import Live, Sent, live_daemon

pytestmark = pytest.mark.scenario(3)

#: mistral-7b-support: 1..1 for the first 20 minutes of every hour, 1..2 otherwise.
HOURLY_BOUNDS = """
  - name: hourly-bounds
    match: {names: [mistral-7b-support]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - name: quiet
        cron: "0 * * * *"
        duration: 20m
        state: {min_replicas: 1, max_replicas: 1}
"""
#: sdxl-image-gen: stopped from :30 to :45 of every hour, running otherwise.
HOURLY_STOP = """
  - name: hourly-stop
    match: {names: [sdxl-image-gen]}
    default: running
    windows:
      - name: pause
        cron: "30 * * * *"
        duration: 15m
        state: stopped
"""
POLICIES = document(OFFICE, NIGHT, HOURLY_BOUNDS, HOURLY_STOP)

#: How long after the daemon's time reaches a boundary its call may leave, in (monotonic) seconds:
#: the clock watchdog's period, plus a second for the cycle it starts.
SLACK_SECONDS = CLOCK_CHECK_SECONDS + 1.0
HOUR = 3600.0


@dataclass(frozen=True)
class Script:
    """A run: where the wall clock starts, what happens when (monotonic seconds from the start), for how long."""

    name: str
    start: datetime
    events: tuple[tuple[float, str, float], ...]
    """(at, "jump", seconds) steps the wall clock; (at, "restart", 0) restarts the daemon."""
    length: float

    def wall(self, elapsed: float, *, before_steps: bool = False) -> datetime:
        """The wall clock at ``elapsed``: after the steps made by then (or just before those made at that moment)."""
        jumped = sum(
            value
            for moment, kind, value in self.events
            if kind == "jump" and (moment < elapsed or (moment == elapsed and not before_steps))
        )
        return self.start + timedelta(seconds=elapsed + jumped)

    def daemon_time(self, elapsed: float) -> datetime:
        """The latest wall-clock instant seen by ``elapsed``: the daemon's time, which never goes back."""
        peaks = [self.wall(moment, before_steps=True) for moment, kind, _ in self.events if kind == "jump" and moment <= elapsed]
        return max([self.start, self.wall(elapsed), *peaks])

    def reached(self, instant: datetime) -> float | None:
        """The first moment (monotonic seconds) at which the daemon's time reaches ``instant``, if it does."""
        moments = sorted({0.0, *(moment for moment, kind, _ in self.events if kind == "jump"), self.length})
        for begin, end in zip(moments, moments[1:], strict=False):
            if self.daemon_time(begin) >= instant:
                return begin
            crossing = begin + (instant - self.wall(begin)).total_seconds()
            if crossing <= end:
                return crossing
        return None

    def reference(self) -> Script:
        """The run the daemon's time describes, without the wall clock's steps back: its forward steps
        only, and none of the time spent waiting for the wall clock to catch up.

        Every call of this script's run must be a call of the reference's, made when the
        daemon's time reached the instant the reference made it.
        """
        moments = sorted({0.0, *(moment for moment, kind, _ in self.events if kind == "jump"), self.length})
        events: list[tuple[float, str, float]] = []
        elapsed = 0.0
        for begin, end in zip(moments, moments[1:], strict=False):
            before = self.daemon_time(begin - 1e-6) if begin > 0 else self.start
            after = self.daemon_time(begin)
            if (after - before).total_seconds() > 0.5 and begin > 0:
                events.append((round(elapsed, 6), "jump", (after - before).total_seconds()))
            elapsed += (self.daemon_time(end - 1e-6) - after).total_seconds()
        return Script(f"{self.name} (reference)", self.start, tuple(events), round(elapsed, 6))

    @property
    def end(self) -> datetime:
        """The daemon's time when the run ends."""
        return self.daemon_time(self.length)

    @property
    def jumps(self) -> int:
        return sum(1 for _, kind, _ in self.events if kind == "jump")


def at(hhmm: str) -> datetime:
    return at_utc(MONDAY, hhmm)


def seconds_between(start: str, then: str) -> float:
    return (at(then) - at(start)).total_seconds()


#: One script of each kind, around llama's 08:00 and the hourly boundaries (the fast run takes two).
FIXED = [
    Script("forward over 08:00", at("07:30"), ((seconds_between("07:30", "07:59:30"), "jump", HOUR),), 3270.0),
    Script("back over an applied 08:00", at("07:50"), ((seconds_between("07:50", "08:05"), "jump", -HOUR),), 5500.0),
    Script("back before 08:00 (a wake-up planned)", at("07:50"), ((seconds_between("07:50", "07:55"), "jump", -HOUR),), 4400.0),
    Script(
        "forward then back",
        at("07:20"),
        ((seconds_between("07:20", "07:30"), "jump", HOUR), (seconds_between("07:20", "07:40"), "jump", -HOUR)),
        5200.0,
    ),
    Script(
        "back, then a restart while behind",
        at("07:50"),
        ((seconds_between("07:50", "08:05"), "jump", -HOUR), (seconds_between("07:50", "08:15"), "restart", 0.0)),
        5500.0,
    ),
]
CASES = FIXED if is_full() else [FIXED[0], FIXED[4]]


def random_scripts(count: int, rng: random.Random) -> Iterator[Script]:
    """Scripts with one or two steps of about an hour within a few minutes of a boundary, sometimes a restart."""
    for index in range(count):
        start = MONDAY + timedelta(minutes=rng.randrange(0, 24 * 60 - 240))
        events: list[tuple[float, str, float]] = []
        moment = rng.uniform(600, 3000)
        for _ in range(rng.choice([1, 1, 2])):
            wall = start + timedelta(seconds=moment)
            boundary = wall.replace(minute=rng.choice([0, 20, 30, 45]), second=0)
            near = (boundary - wall).total_seconds() + rng.uniform(-300, 300)
            moment = max(moment, moment + near)
            size = rng.choice([HOUR, HOUR, -HOUR, -HOUR, HOUR / 2, -HOUR / 2, -1.5 * HOUR])
            events.append((round(moment, 3), "jump", size))
            if size < 0 and rng.random() < 0.3:
                events.append((round(moment + rng.uniform(60, 900), 3), "restart", 0.0))
            moment += rng.uniform(300, 2400)
        events.sort()
        yield Script(f"random {index}", start, tuple(events), max(moment, events[-1][0]) + 1.5 * HOUR)


@dataclass
class Run:
    """What a script's run did: the mutating calls, the final platform state, job failures, logs."""

    calls: list[Sent]
    final: dict[str, tuple[str, int, int]]
    job_errors: float
    logs: list[dict[str, object]]


async def play(tmp_path: Path, script: Script) -> Run:
    """Run the daemon through ``script``; return what it did."""
    with capture_logs() as logs:
        async with live_daemon(tmp_path, policies=POLICIES, start=script.start) as live:
            errors = 0.0
            for moment, kind, value in script.events:
                await live.time.sleep_for(moment - live.time.elapsed)
                if kind == "jump":
                    live.time.jump(value)
                else:
                    errors += live.job_errors()
                    await live.restart()
            await live.time.sleep_for(script.length - live.time.elapsed)
            errors += live.job_errors()
            final = platform_state(live)
            calls = live.network.mutations()
    return Run(calls, final, errors, logs)


def platform_state(live: Live) -> dict[str, tuple[str, int, int]]:
    """Every deployment's status and replica bounds as the simulator holds them."""
    sim = live.harness.sim
    now = sim.now()
    sim.settle(now)
    return {
        deployment.deployment_name: (deployment.status, deployment.min_replicas, deployment.max_replicas)
        for deployment in sim.deployments.values()
    }


def by_deployment(calls: list[Sent]) -> dict[str, list[Sent]]:
    grouped: dict[str, list[Sent]] = {}
    for call in calls:
        grouped.setdefault(call.deployment, []).append(call)
    return grouped


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Warnings and above are kept (clock steps, missed jobs); the rest is not rendered."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


async def check_script(tmp_path: Path, script: Script, figures: ScenarioFigures) -> list[str]:
    """Run ``script`` and its reference; record the figures; return every difference found."""
    reference_script = script.reference()
    reference = await play(tmp_path / "reference", reference_script)
    run = await play(tmp_path / "jumps", script)
    problems: list[str] = []
    expected, got = by_deployment(reference.calls), by_deployment(run.calls)
    duplicates = losses = 0
    for deployment in sorted(set(expected) | set(got)):
        wanted = [call.action for call in expected.get(deployment, [])]
        made = [call.action for call in got.get(deployment, [])]
        for tag, low, high, low2, high2 in difflib.SequenceMatcher(a=wanted, b=made, autojunk=False).get_opcodes():
            if tag in ("insert", "replace"):
                duplicates += high2 - low2
                problems.append(f"{deployment}: extra {[str(call) for call in got[deployment][low2:high2]]}")
            if tag in ("delete", "replace"):
                losses += high - low
                problems.append(f"{deployment}: missing {[str(call) for call in expected[deployment][low:high]]}")
        if wanted != made:
            continue
        for want, call in zip(expected.get(deployment, []), got.get(deployment, []), strict=True):
            due = script.reached(want.wall)
            if due is None or abs(call.elapsed - due) > SLACK_SECONDS:
                problems.append(f"{deployment}: {call} made at +{call.elapsed:.1f}s, due at +{due}s ({want})")
    if run.final != reference.final:
        problems.append(f"final state {run.final} differs from the reference's {reference.final}")
    failed = [call for call in run.calls if call.status is None or call.status >= 400]
    if failed:
        problems.append(f"failed calls: {[str(call) for call in failed]}")
    failures = [
        f"{line.get('job')}: {line.get('error')}"
        for line in reference.logs + run.logs
        if line["event"] == "job_failed" or (line["event"] == "scheduler_event" and line.get("kind") == "error")
    ]
    for failure in failures:
        figures.crash(f"{script.name}: a job failed: {failure}")
    if failures or run.job_errors + reference.job_errors:
        warnings = [line for line in reference.logs + run.logs if line.get("log_level") in ("warning", "error")]
        problems.append(f"{run.job_errors + reference.job_errors:.0f} jobs failed: {failures}; last warnings {warnings[-5:]}")
    figures.add(
        cases=1,
        faults=script.jumps,
        actions_expected=len(reference.calls),
        actions_applied=sum(1 for call in run.calls if call.status is not None and call.status < 400),
        duplicates=duplicates,
        losses=losses,
        crashes=0,
    )
    steps = [line for line in run.logs if line["event"] == "clock_jumped"]
    if len(steps) != script.jumps:
        problems.append(f"{len(steps)} clock_jumped events logged for {script.jumps} steps")
    return [f"{script.name}: {problem}" for problem in problems]


@pytest.mark.parametrize("script", CASES, ids=[script.name for script in CASES])
async def test_a_step_of_the_wall_clock_neither_repeats_nor_skips_a_transition(
    tmp_path: Path, script: Script, figures: ScenarioFigures
) -> None:
    """A step around llama's 08:00: the calls of the reference run, once each, when the daemon's time reaches them."""
    assert [] == await check_script(tmp_path, script, figures)


@pytest.mark.skipif(not is_full(), reason="random scripts run in the full suite (make reliability)")
async def test_random_steps_around_boundaries_neither_repeat_nor_skip_a_transition(
    tmp_path: Path, figures: ScenarioFigures
) -> None:
    """Seeded random steps of half an hour to an hour and a half, within five minutes of a boundary, some with a restart."""
    problems: list[str] = []
    for index, script in enumerate(random_scripts(scaled(fast=0, full=40), random.Random(run_seed()))):
        problems += await check_script(tmp_path / str(index), script, figures)
    assert [] == problems


async def test_a_wake_up_planned_before_a_backward_step_keeps_its_wall_clock_instant(
    tmp_path: Path, figures: ScenarioFigures
) -> None:
    """Planned for 08:00 at 07:55, the clock steps back to 06:55: the wake-up stays at 08:00 and fires then, not at 07:00."""
    async with live_daemon(tmp_path, policies=POLICIES, start=at("07:50")) as live:
        await live.time.sleep_until(at("07:55"))
        assert live.scheduler is not None
        planned = live.scheduler.wakeup_at
        live.time.jump(-HOUR)
        await live.time.sleep_for(CLOCK_CHECK_SECONDS + 1)
        kept = live.scheduler.wakeup_at
        await live.time.sleep_until(at("07:59:59"))
        before = [str(call) for call in live.network.mutations() if call.deployment == "llama-3-8b-chat"]
        await live.time.sleep_until(at("08:00:01"))
        after = [str(call) for call in live.network.mutations() if call.deployment == "llama-3-8b-chat"][len(before) :]
        steps = live.harness.sample("scaler_clock_jumps_total", direction="backward")
    figures.add(cases=1, faults=1, crashes=0)
    assert (at("08:00"), at("08:00"), 1.0) == (planned, kept, steps)
    assert ["08:00:00 (+4200s) llama-3-8b-chat update_replicas 1..3 -> 200", "08:00:00 (+4200s) llama-3-8b-chat start -> 200"] == after
