"""Scenario 2, crashes: ``scaler run`` killed with SIGKILL again and again, in the middle of what it does.

Real processes: ``scaler sim`` on a loopback port, ``scaler run`` against it on SQLite (and
PostgreSQL, in the full run), restarted after every kill. Real time, short windows: ten
deployments follow a scripted schedule of absolute instants (policy windows with
``from``/``until`` to the second), each changing state every 5 to 9 seconds, so that a
boundary is never far; the daemon's own boundary wake-ups act on them. (Advancing the
simulator's clock would not help: the daemon reads its own clock, and policies are
wall-clock facts; real short windows test the real scheduler.)

Each kill is one of:

- **mid-call**: the simulator holds mutating requests for 1.2 s; the daemon is killed
  0.2 to 1.0 s after a boundary, while its calls are held (they land after it died);
- **mid-write**: killed within 50 ms of a boundary, while it records and sends;
- **mid-reload**: a policy file is rewritten (a future window changes state), SIGHUP
  sent, and the daemon killed within 0.2 s;
- **anywhere**: at a random moment.

Restarted after a random pause (after the calls it left in flight have landed, as any
restart takes longer than a request's latency), it must settle what the kill left
pending and converge. What must hold:

- **After every restart** its first cycle brings every deployment whose desired state
  did not change meanwhile to that state.
- **No loss**: every mutating request the simulator answered with success has exactly
  one audit record: the record naming its request id, or, for a call whose answer the
  kill cut off, the record written ahead of it and settled by crash recovery
  ("interrupted; ..."). No record stays pending at the end.
- **No duplicate**: on the platform, a transition is a request that changes a
  deployment's state (running or not, replica bounds), followed from the seed through
  the simulator's request log; each must be justified by the schedule (a stop while
  stopped is desired, a start while running is, bounds the schedule asks for) at the
  moment it landed, give or take the held latency. In the audit log, two completed
  plans establishing the same state with no change of the desired state between them
  are a duplicate. A request that changes nothing is a re-send: an ``update-replicas``
  interrupted by a kill cannot be confirmed (the API does not report bounds), so
  recovery settles it as an error and the next cycle sends the desired bounds again; the
  platform already has them, nothing changes, and it is counted as a re-send, not as a
  duplicate (one transition, one completed record).
- **Integrity**: after every kill the SQLite file passes ``PRAGMA integrity_check``; at
  the end the platform is in the schedule's final state.
"""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scaler.store import ActionRecord, open_store
from tests.daemon.harness import (
    BATCH,
    CANARY,
    CODE_ASSIST,
    EMBEDDINGS,
    LLAMA_8B,
    LLAMA_70B,
    MISTRAL,
    NAMES,
    RERANKER,
    SDXL,
    WHISPER,
)
from tests.processes import SimProcess, daemon_environment
from tests.reliability.figures import ScenarioFigures, run_seed, scaled
from tests.reliability.processes import DaemonProcess

pytestmark = [pytest.mark.scenario(2), pytest.mark.integration]

DEPLOYMENTS = (LLAMA_8B, CANARY, LLAMA_70B, WHISPER, MISTRAL, SDXL, EMBEDDINGS, RERANKER, CODE_ASSIST, BATCH)
#: Desired states a segment may take: stopped, running (bounds left alone), or replica bounds.
STATES: tuple[Any, ...] = ("stopped", "running", (1, 2), (1, 3), (2, 3))
SEGMENT_SECONDS = (5.0, 9.0)
#: How long the simulator holds a mutating request for a mid-call kill, in milliseconds.
LATENCY_MS = 1200
#: How far a transition may land after the instant its state became desired (the held latency, a cycle).
LANDING_SLACK = timedelta(seconds=LATENCY_MS / 1000 + 3)
KINDS = ("mid-call", "mid-write", "mid-reload", "anywhere")
#: After one of each, kills in the middle of a call are the likeliest (they leave the most to settle).
KIND_WEIGHTS = (3, 2, 2, 1)
MUTATING = ("update_replicas", "startstop")


def state_text(state: Any) -> str:
    return f"{{min_replicas: {state[0]}, max_replicas: {state[1]}}}" if isinstance(state, tuple) else state


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Schedule:
    """Each deployment's desired state over time: segments of absolute instants, then its final state."""

    start: datetime
    end: datetime
    segments: dict[str, list[list[Any]]] = field(default_factory=dict)
    """deployment id -> [[from, until, state], ...], consecutive, covering [first from, end)."""
    initial: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def random(cls, start: datetime, end: datetime, rng: random.Random) -> Schedule:
        start, end = start.replace(microsecond=0), end.replace(microsecond=0)
        schedule = cls(start, end)
        for deployment in DEPLOYMENTS:
            moment = start + timedelta(seconds=rng.randint(0, int(SEGMENT_SECONDS[1])))
            state = rng.choice(STATES)
            schedule.initial[deployment] = state
            segments = []
            while moment < end:
                state = rng.choice([other for other in STATES if other != state])
                length = timedelta(seconds=rng.randint(*map(int, SEGMENT_SECONDS)))
                segments.append([moment, min(moment + length, end), state])
                moment = segments[-1][1]
            schedule.segments[deployment] = segments
            # A policy with bounds windows needs a default of stopped or bounds (bounds cannot be read back).
            schedule.final[deployment] = rng.choice([other for other in STATES if other not in (state, "running")])
        return schedule

    def desired(self, deployment: str, at: datetime) -> Any:
        """The state the schedule asks of ``deployment`` at ``at`` (windows are [from, until))."""
        segments = self.segments[deployment]
        if at < (segments[0][0] if segments else self.end):
            return self.initial[deployment]
        for begin, until, state in segments:
            if begin <= at < until:
                return state
        return self.final[deployment]

    def changes(self, deployment: str) -> list[datetime]:
        """The instants at which the desired state of ``deployment`` changes."""
        instants, previous = [], self.initial[deployment]
        for begin, until, state in self.segments[deployment]:
            if state != previous:
                instants.append(begin)
            previous = state
        if self.final[deployment] != previous:
            instants.append(self.end)
        return instants

    def boundaries(self) -> list[datetime]:
        """Every instant at which some deployment's desired state changes, in order."""
        return sorted({instant for deployment in DEPLOYMENTS for instant in self.changes(deployment)})

    def calls_at(self, instant: datetime) -> bool:
        """Whether some deployment needs a call at ``instant`` (running after bounds needs none)."""
        before = instant - timedelta(seconds=0.5)
        for deployment in DEPLOYMENTS:
            old, new = self.desired(deployment, before), self.desired(deployment, instant)
            if old != new and not (new == "running" and old != "stopped"):
                return True
        return False

    def steady(self, deployment: str, begin: datetime, until: datetime) -> bool:
        """Whether the desired state of ``deployment`` stays the same from ``begin`` to ``until``."""
        return not any(begin < instant <= until for instant in self.changes(deployment))

    def flip_a_future_window(self, after: datetime, rng: random.Random) -> bool:
        """Give a window starting after ``after`` another state (what a policy edit does); False if none is left."""
        candidates = [
            (deployment, index)
            for deployment, segments in self.segments.items()
            for index, (begin, _, _) in enumerate(segments)
            if begin > after and index + 1 < len(segments)
        ]
        if not candidates:
            return False
        deployment, index = rng.choice(candidates)
        segments = self.segments[deployment]
        neighbours = {segments[index - 1][2] if index else self.initial[deployment], segments[index + 1][2]}
        segments[index][2] = rng.choice([state for state in STATES if state not in neighbours])
        return True

    def document(self) -> str:
        """The policy file of the schedule."""
        lines = ["version: 1", "policies:"]
        for deployment in DEPLOYMENTS:
            lines += [
                f"  - name: crash-{NAMES[deployment]}",
                f"    match: {{ids: [{deployment}]}}",
                f"    default: {state_text(self.final[deployment])}",
                "    windows:",
            ]
            first = self.segments[deployment][0][0] if self.segments[deployment] else self.end
            lines.append(
                f"      - {{name: before, from: \"{iso(self.start - timedelta(days=1))}\", "
                f"until: \"{iso(first)}\", state: {state_text(self.initial[deployment])}}}"
            )
            for index, (begin, until, state) in enumerate(self.segments[deployment]):
                lines.append(
                    f"      - {{name: s{index}, from: \"{iso(begin)}\", until: \"{iso(until)}\", state: {state_text(state)}}}"
                )
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> None:
        """Write the policy file atomically (as a ConfigMap update does)."""
        target, scratch = directory / "schedule.yaml", directory / ".schedule.yaml.new"
        scratch.write_text(self.document())
        scratch.replace(target)


def consistent(state: Any, platform: dict[str, Any]) -> bool:
    """Whether the simulator's ``platform`` state is the desired ``state``."""
    if state == "stopped":
        return not platform["running"]
    if state == "running":
        return bool(platform["running"])
    return bool(platform["running"]) and (platform["min_replicas"], platform["max_replicas"]) == state


def justified(request: dict[str, Any], schedule: Schedule) -> bool:
    """Whether a request that changed the platform asked for what the schedule wanted when it landed, or just before."""
    landed = datetime.fromisoformat(request["timestamp"])
    deployment, body = request["deployment_id"], request["body"] or {}
    wanted = {schedule.desired(deployment, landed - LANDING_SLACK * step / 4) for step in range(5)}
    if request["endpoint"] == "update_replicas":
        return (body.get("min_replicas"), body.get("max_replicas")) in wanted
    if body.get("action") == "stop":
        return "stopped" in wanted
    return bool(wanted - {"stopped"})


@dataclass
class Book:
    """What the run counted."""

    backend: str
    kills: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    diverged: int = 0
    """Deployments not in their desired state after a restart's first cycle, or at the end."""


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of the SQLite file at ``path`` (while no daemon runs)."""
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def check_converged(schedule: Schedule, sim: SimProcess, started: float, book: Book, where: str) -> None:
    """After a restart's first cycle: every deployment whose desired state held still since the start has it."""
    now = datetime.now(UTC)
    platform = sim.deployments()
    begin = datetime.fromtimestamp(started, UTC) - timedelta(seconds=1)
    for deployment in DEPLOYMENTS:
        if not schedule.steady(deployment, begin, now + timedelta(seconds=0.5)):
            continue
        book.checked += 1
        wanted = schedule.desired(deployment, now)
        if not consistent(wanted, platform[deployment]):
            state = platform[deployment]
            book.diverged += 1
            book.problems.append(
                f"{where}: {NAMES[deployment]} should be {wanted} but is "
                f"{'running' if state['running'] else 'stopped'} {state['min_replicas']}..{state['max_replicas']}"
            )


def sleep_until(instant: datetime) -> None:
    seconds = (instant - datetime.now(UTC)).total_seconds()
    if seconds > 0:
        time.sleep(seconds)


def run_crashes(
    tmp_path: Path,
    state_url: str,
    sqlite_path: Path | None,
    figures: ScenarioFigures,
    *,
    seconds_per_kill: float = 4.5,
    **env: str,
) -> None:
    """Run the schedule with its kills (see the module's docstring) and check everything.

    ``seconds_per_kill``: how much schedule each kill takes (a restart and its first cycle).
    """
    rng = random.Random(run_seed())
    kills = scaled(fast=1, full=24)
    policies = tmp_path / "policies"
    policies.mkdir()
    sim = SimProcess(log_path=tmp_path / "sim.log")
    book = Book("sqlite" if sqlite_path is not None else "postgresql")
    daemon: DaemonProcess | None = None
    try:
        sim.control("PUT", "/quotas", {})
        for deployment in DEPLOYMENTS:
            sim.control("PATCH", f"/deployments/{deployment}", {"startup_seconds": 0})
        initial = {
            deployment: (bool(item["running"]), item["min_replicas"], item["max_replicas"])
            for deployment, item in sim.deployments().items()
        }
        start = datetime.now(UTC) + timedelta(seconds=2.5)
        end = start + timedelta(seconds=1 + seconds_per_kill * kills)
        schedule = Schedule.random(start, end, rng)
        schedule.write(policies)
        environment = daemon_environment(
            sim.url,
            policies=policies,
            state_url=state_url,
            SCALER_RECONCILE_INTERVAL_SECONDS="2",
            SCALER_HEALTH_IDLE_INTERVAL_SECONDS="0",
            SCALER_MAX_ACTIONS_PER_CYCLE="100",
            SCALER_MAX_REQUESTS_PER_SECOND="200",
            **env,
        )
        log = tmp_path / "daemon.log"
        daemon = DaemonProcess(environment, log)
        daemon.wait_started()
        daemon.wait_acting()
        for number in range(kills):
            kind = KINDS[number] if number < len(KINDS) else rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
            soon = datetime.now(UTC) + timedelta(seconds=1.5)
            upcoming = [instant for instant in schedule.boundaries() if instant > soon and schedule.calls_at(instant)]
            if not upcoming:
                break
            boundary = upcoming[0]
            if kind == "mid-call":
                sim.control("PUT", "/faults/latency", {"fixed_ms": LATENCY_MS, "endpoints": list(MUTATING)})
                sleep_until(boundary + timedelta(seconds=rng.uniform(0.2, 1.0)))
            elif kind == "mid-write":
                sleep_until(boundary + timedelta(seconds=rng.uniform(0.0, 0.05)))
            elif kind == "mid-reload":
                schedule.flip_a_future_window(datetime.now(UTC) + timedelta(seconds=8), rng)
                schedule.write(policies)
                daemon.process.send_signal(1)  # SIGHUP: reload now
                time.sleep(rng.uniform(0.0, 0.2))
            else:
                time.sleep(rng.uniform(0.0, 3.0))
            daemon.kill()
            book.kills[kind] += 1
            if kind == "mid-call":
                time.sleep(LATENCY_MS / 1000 + 0.3)  # what it left in flight lands
                sim.control("PUT", "/faults/latency", {"fixed_ms": 0})
            if sqlite_path is not None:
                verdict = integrity(sqlite_path)
                if verdict != "ok":
                    book.problems.append(f"kill {number} ({kind}): integrity_check says {verdict}")
            time.sleep(rng.uniform(0.0, 1.5))
            daemon = DaemonProcess(environment, log)
            daemon.wait_started()
            daemon.wait_acting()
            check_converged(schedule, sim, daemon.started, book, f"after kill {number} ({kind})")
        sleep_until(schedule.end + timedelta(seconds=0.5))
        daemon.wait_cycle(after=time.time())
        code = daemon.terminate()
        if code != 0:
            book.problems.append(f"the last daemon exited {code} on SIGTERM")
        platform = sim.deployments()
        for deployment in DEPLOYMENTS:
            if not consistent(schedule.final[deployment], platform[deployment]):
                book.diverged += 1
                book.problems.append(f"at the end {NAMES[deployment]} is not {schedule.final[deployment]}")
        requests = sim.requests()
    finally:
        if daemon is not None:
            daemon.close()
        sim.stop()
    if sqlite_path is not None and integrity(sqlite_path) != "ok":
        book.problems.append("integrity_check fails at the end")
    with open_store(state_url) as store:
        records = list(reversed(store.recent_actions(1_000_000)))
    reconcile(schedule, initial, requests, records, book, figures)
    figures.add(cases=sum(book.kills.values()), faults=sum(book.kills.values()), crashes=0)
    assert [] == book.problems
    assert kills == sum(book.kills.values()), f"only {book.kills} kills fitted in the schedule"


def reconcile(
    schedule: Schedule,
    initial: dict[str, tuple[bool, int, int]],
    requests: list[dict[str, Any]],
    records: list[ActionRecord],
    book: Book,
    figures: ScenarioFigures,
) -> None:
    """Match every successful mutating request to one audit record; find transitions made twice or never justified."""
    mutations = [r for r in requests if r["endpoint"] in MUTATING and 200 <= r["status"] < 300]
    by_request = {record.request_id: record for record in records if record.request_id}
    pending = [record for record in records if record.result == "pending"]
    if pending:
        book.problems.append(f"{len(pending)} audit records still pending: {[record.id for record in pending]}")
    matched: dict[int, list[dict[str, Any]]] = {}
    losses = 0
    for request in mutations:
        record = by_request.get(request["request_id"])
        if record is None:
            record = interrupted_record(request, records, matched)
        if record is None:
            losses += 1
            book.problems.append(f"no audit record for {request['endpoint']} {request['body']} of {NAMES.get(request['deployment_id'])} at {request['timestamp']}")
            continue
        matched.setdefault(record.id, []).append(request)
    several = {record_id: found for record_id, found in matched.items() if len(found) > 1}
    for record_id, found in several.items():
        book.problems.append(f"audit record {record_id} stands for {len(found)} requests")
    phantoms = [
        record
        for record in records
        if record.result == "success" and record.request_id and record.request_id not in {r["request_id"] for r in mutations}
    ]
    for record in phantoms:
        book.problems.append(f"audit record {record.id} names request {record.request_id}, which the platform never answered")

    platform = dict(initial)
    transitions = resends = spurious = 0
    for request in mutations:
        deployment, body = request["deployment_id"], request["body"] or {}
        before = platform[deployment]
        if request["endpoint"] == "startstop":
            after = (body.get("action") == "start", before[1], before[2])
        else:
            after = (before[0], body.get("min_replicas"), body.get("max_replicas"))
        platform[deployment] = after
        if after == before:
            resends += 1
            continue
        transitions += 1
        if not justified(request, schedule):
            spurious += 1
            book.problems.append(f"{NAMES[deployment]}: {request['endpoint']} {body} at {request['timestamp']} not desired then")

    completed: dict[str, list[ActionRecord]] = {}
    for record in records:
        if record.result == "success" and isinstance(record.parameters.get("target"), str):
            completed.setdefault(str(record.deployment_id), []).append(record)
    duplicates = 0
    for deployment, items in completed.items():
        for before, after in zip(items, items[1:], strict=False):
            same = before.parameters.get("target") == after.parameters.get("target")
            changed = any(before.started_at < instant <= after.started_at for instant in schedule.changes(deployment))
            if same and not changed:
                duplicates += 1
                book.problems.append(f"{NAMES[deployment]}: {after.parameters['target']} completed twice ({before.id}, {after.id})")
    # Expected: the transitions the schedule justified, plus those it asked for and the platform never made.
    figures.add(
        actions_expected=transitions - spurious + book.diverged,
        actions_applied=transitions - spurious,
        duplicates=duplicates + spurious + len(several),
        losses=losses + len(pending) + book.diverged,
    )
    changes = sum(len(schedule.changes(deployment)) for deployment in DEPLOYMENTS)
    recovered = sum(1 for record in records if (record.platform_message or "").startswith("interrupted"))
    figures.note(
        f"{book.backend}: {sum(book.kills.values())} kills {book.kills}; the schedule changed {changes} desired states; "
        f"{len(mutations)} successful requests: {transitions} transitions, {resends} re-sends; "
        f"{recovered} records settled by recovery; {book.checked} deployments checked after restarts"
    )


def interrupted_record(
    request: dict[str, Any], records: list[ActionRecord], matched: dict[int, list[dict[str, Any]]]
) -> ActionRecord | None:
    """The record of a call whose answer a kill cut off: written ahead, settled by recovery, of this deployment and
    action, started before the request landed, not yet matched."""
    landed = datetime.fromisoformat(request["timestamp"])
    body = request["body"] or {}
    action = body.get("action") if request["endpoint"] == "startstop" else request["endpoint"]
    candidates = [
        record
        for record in records
        if str(record.deployment_id) == request["deployment_id"]
        and record.action == action
        and record.request_id is None
        and (record.platform_message or "").startswith("interrupted")
        and record.started_at <= landed
        and record.id not in matched
        and (action != "update_replicas" or (record.parameters.get("min_replicas"), record.parameters.get("max_replicas")) == (body.get("min_replicas"), body.get("max_replicas")))
    ]
    return candidates[-1] if candidates else None


def test_sigkill_at_random_moments_loses_and_repeats_nothing_on_sqlite(tmp_path: Path, figures: ScenarioFigures) -> None:
    """SQLite: every kind of kill, every restart converges, the audit log and the platform agree, the file is sound."""
    database = tmp_path / "state.db"
    run_crashes(tmp_path, f"sqlite:///{database}", database, figures)


def test_sigkill_at_random_moments_loses_and_repeats_nothing_on_postgresql(
    tmp_path: Path, postgres_url: str, figures: ScenarioFigures
) -> None:
    """PostgreSQL, leader election on (a killed leader's lock is released with its connection): the same checks."""
    run_crashes(
        tmp_path,
        postgres_url,
        None,
        figures,
        SCALER_LEADER_HEARTBEAT_SECONDS="0.2",
        SCALER_LEADER_LEASE_SECONDS="0.6",
        SCALER_LEADER_CAMPAIGN_SECONDS="0.2",
        SCALER_LEADER_TAKEOVER_DELAY_SECONDS="1",
        seconds_per_kill=5.5,
    )
