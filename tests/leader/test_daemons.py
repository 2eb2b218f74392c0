"""Daemons on one simulator and one PostgreSQL state: one elected leader acts, standbys only watch,
a failover applies what fell due meanwhile exactly once, and a severed lock stops the leader."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import structlog

from scaler.store import FINAL_RESULTS, ActionIntent
from scaler.store.leader import LEADER, STANDBY
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, WHISPER, Harness, at_utc
from tests.daemon.policies import document
from tests.daemon.stalls import Stalls
from tests.leader.conftest import FAST, FakeClock, changes, terminate_backend
from tests.leader.replicas import Replica, make_replica, mutating_request_ids, senders

pytestmark = pytest.mark.integration

OFFICE_AND_NIGHT = document(policies.OFFICE, policies.NIGHT)


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Info and above reach capture_logs; the client's debug lines do not."""
    structlog.reset_defaults()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.reset_defaults()


class Cluster:
    """Replicas on one simulator, one state database, one schedule clock and one elector clock."""

    def __init__(self, harness: Harness, state_url: str, clock: FakeClock) -> None:
        self.harness = harness
        self.state_url = state_url
        self.clock = clock
        self.replicas: list[Replica] = []
        self.dead: set[str] = set()

    def add(self, name: str) -> Replica:
        """A new replica, not yet campaigning."""
        replica = make_replica(self.harness, self.state_url, name, self.clock)
        self.replicas.append(replica)
        return replica

    @property
    def alive(self) -> list[Replica]:
        return [replica for replica in self.replicas if replica.name not in self.dead]

    def kill(self, replica: Replica) -> None:
        """The replica's process dies: its lock session ends and it never runs again."""
        assert replica.elector.backend_pid is not None
        terminate_backend(self.state_url, replica.elector.backend_pid)
        self.dead.add(replica.name)

    async def tick(self, seconds: float = FAST.heartbeat_seconds) -> None:
        """Let ``seconds`` pass on the electors' clock, then let every live elector take its step."""
        self.clock.advance(seconds)
        for replica in self.alive:
            await replica.elector.tick()

    async def elect(self, leader: Replica) -> None:
        """``leader`` takes the lock first, the others campaign in vain; after the takeover delay it leads."""
        await leader.elector.tick()
        await self.tick(0)
        await self.tick(FAST.takeover_delay_seconds)
        assert [leader.name] == [replica.name for replica in self.alive if replica.elector.role == LEADER]

    async def everyone(self, job: str) -> None:
        """Run a daemon job (``inventory_cycle``, ``wake_up``) on every live replica."""
        for replica in self.alive:
            await getattr(replica.daemon, job)()

    async def run_until(self, end: datetime, *, interval: timedelta = timedelta(hours=1)) -> None:
        """Play every live replica's scheduler until ``end``: boundary wake-ups when due, a reconcile every
        ``interval``; the electors heartbeat before each job."""
        harness = self.harness
        next_cycle = harness.now() + interval
        while True:
            wakeups = [replica.daemon.reconciler.next_wakeup(harness.now()) for replica in self.alive]
            jobs = [(next_cycle, 1, "inventory_cycle")] + [(w, 0, "wake_up") for w in wakeups if w is not None]
            when, _, job = min(jobs)
            if when > end:
                break
            harness.at(when)
            await self.tick()
            await self.everyone(job)
            if job == "inventory_cycle":
                next_cycle += interval
        harness.at(end)


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str, clock: FakeClock) -> AsyncIterator[Cluster]:
    """A simulator at Monday 05:00 UTC with office hours and a night stop; replicas are added by the test."""
    harness = Harness(tmp_path, policies=OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:00"), state_url=postgres_url)
    made = Cluster(harness, postgres_url, clock)
    yield made
    for replica in made.replicas:
        await replica.close()
    await harness.close()


DAY = [
    "Mon 05:00:00 llama-3-8b-chat stop -> 200",
    "Mon 05:00:00 whisper-v3 stop -> 200",
    "Mon 06:00:00 whisper-v3 start -> 200",
    "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
    "Mon 08:00:00 llama-3-8b-chat start -> 200",
    "Mon 19:00:00 llama-3-8b-chat stop -> 200",
    "Mon 22:00:00 whisper-v3 stop -> 200",
]


async def test_two_daemons_elect_one_and_only_it_calls_the_platform(cluster: Cluster) -> None:
    """Two daemons through a day: every call of the day is made once, all by the elected one; the standby
    sent none, yet resolves the same desired states and reports itself a standby of the leader."""
    leader, standby = cluster.add("scaler-0"), cluster.add("scaler-1")
    await cluster.elect(leader)
    await cluster.everyone("inventory_cycle")
    await cluster.run_until(at_utc(MONDAY, "23:00"))
    assert DAY == [str(call) for call in cluster.harness.calls()]
    assert ["scaler-0"] * len(DAY) == senders(cluster.harness, cluster.replicas)
    assert (1.0, 0.0) == (leader.sample("scaler_leader"), standby.sample("scaler_leader"))
    seen_by = {}
    for replica in (leader, standby):
        document_ = await replica.daemon.status_document()
        seen_by[replica.name] = {item["deployment_name"]: item["desired"] for item in document_["deployments"]}
    assert seen_by["scaler-0"] == seen_by["scaler-1"]
    leadership = (await standby.daemon.status_document())["daemon"]["leadership"]
    assert (STANDBY, "scaler-0", False) == (leadership["role"], leadership["leader"], leadership["may_act"])


async def test_a_boundary_crossed_during_failover_is_applied_once_by_the_new_leader(cluster: Cluster) -> None:
    """The leader dies at 07:59; the 08:00 opening falls due while the standby is still waiting for the lock.
    The new leader applies it once after its takeover, and repeats nothing the old one applied."""
    old = cluster.add("scaler-0")
    cluster.add("scaler-1")
    await cluster.elect(old)
    await cluster.everyone("inventory_cycle")
    await cluster.run_until(at_utc(MONDAY, "07:59"))
    before = [str(call) for call in cluster.harness.calls()]
    cluster.kill(old)
    cluster.harness.at(at_utc(MONDAY, "08:00"))
    await cluster.everyone("wake_up")  # the boundary: the standby may not act yet
    missed = [str(call) for call in cluster.harness.calls()][len(before) :]
    await cluster.tick(FAST.campaign_seconds)  # it takes the free lock...
    await cluster.tick(FAST.takeover_delay_seconds)  # ...and leads after the takeover delay
    cluster.harness.at(at_utc(MONDAY, "08:00:01"))
    await cluster.everyone("inventory_cycle")  # what taking over runs at once
    await cluster.run_until(at_utc(MONDAY, "12:00"))
    taken_over = [
        "Mon 08:00:01 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 08:00:01 llama-3-8b-chat start -> 200",
    ]
    assert (DAY[:3], []) == (before, missed)
    assert DAY[:3] + taken_over == [str(call) for call in cluster.harness.calls()]
    assert ["scaler-0"] * 3 + ["scaler-1"] * 2 == senders(cluster.harness, cluster.replicas)


async def test_a_severed_leader_stops_calling_before_the_new_one_may(cluster: Cluster) -> None:
    """The leader's lock connection is terminated while it lives. Before it even notices, its lease runs out:
    at the 08:00 boundary it sends nothing. At its next heartbeat it steps down, says so in /readyz, /status
    and its metrics, and the other replica takes over."""
    severed, other = cluster.add("scaler-0"), cluster.add("scaler-1")
    await cluster.elect(severed)
    await cluster.everyone("inventory_cycle")
    await cluster.run_until(at_utc(MONDAY, "07:59"))
    calls_before = len(mutating_request_ids(cluster.harness))
    assert severed.elector.backend_pid is not None
    terminate_backend(cluster.state_url, severed.elector.backend_pid)
    cluster.clock.advance(FAST.lease_seconds)  # no heartbeat yet: it still believes it leads
    cluster.harness.at(at_utc(MONDAY, "08:00"))
    unaware = severed.elector.role
    await severed.daemon.wake_up()
    assert (LEADER, calls_before) == (unaware, len(mutating_request_ids(cluster.harness)))
    await cluster.tick()
    _, checks = severed.daemon.readiness()
    assert ("standby", 0.0, 1.0) == (
        checks["leadership"]["role"],
        severed.sample("scaler_leader"),
        changes(severed.metrics, "lost"),
    )
    await cluster.tick(FAST.takeover_delay_seconds)
    await cluster.everyone("inventory_cycle")
    assert (LEADER, ["scaler-0"] * 3 + ["scaler-1"] * 2) == (
        other.elector.role,
        senders(cluster.harness, cluster.replicas),
    )


async def test_a_regained_leadership_settles_what_the_last_leader_left_pending(cluster: Cluster) -> None:
    """A replica that led before and leads again settles the action its predecessor began and never finished
    (crash recovery runs at every takeover, not only at start)."""
    first, second = cluster.add("scaler-0"), cluster.add("scaler-1")
    await cluster.elect(first)
    await cluster.everyone("inventory_cycle")
    assert first.elector.backend_pid is not None
    terminate_backend(cluster.state_url, first.elector.backend_pid)
    await cluster.tick()
    await cluster.tick(FAST.takeover_delay_seconds)
    assert LEADER == second.elector.role
    harness = cluster.harness
    left_pending = second.daemon.store.begin_action(
        ActionIntent(UUID(WHISPER), "whisper-v3", "stop", harness.now(), {}, "cut short by a crash", "night")
    )
    cluster.kill(second)
    await cluster.tick(FAST.campaign_seconds)
    await cluster.tick(FAST.takeover_delay_seconds)
    assert LEADER == first.elector.role
    harness.advance(minutes=1)
    await cluster.everyone("inventory_cycle")
    settled = next(record for record in harness.store.recent_actions(100) if record.id == left_pending)
    assert [] == [record.id for record in harness.store.pending_actions()]
    assert settled.result in FINAL_RESULTS


@pytest.mark.parametrize("new_leader_first", [True, False], ids=["new leader settles first", "old leader first"])
async def test_a_leader_frozen_after_its_calls_left_never_records_them_as_not_sent(
    cluster: Cluster, new_leader_first: bool
) -> None:
    """The leader's 19:00 stop reaches the platform, its answer is late; the leader freezes and the standby
    takes over. The old leader resumes: its answer is lost (a timeout), its fenced retry is not sent, and the
    stop is recorded delivered or unknown, never "not sent"; nothing it writes replaces what the new leader
    recorded, whichever of the two writes first."""
    stalls = Stalls(cluster.harness.transport)
    cluster.harness.transport = stalls  # type: ignore[assignment]
    old, new = cluster.add("scaler-0"), cluster.add("scaler-1")
    await cluster.elect(old)
    cluster.harness.at(at_utc(MONDAY, "18:59"))
    await cluster.everyone("inventory_cycle")
    cluster.harness.at(at_utc(MONDAY, "19:00"))
    stalls.hold("/startstop/")
    frozen = asyncio.create_task(old.daemon.wake_up())
    await stalls.wait_held("/startstop/")

    # The old leader is frozen: no heartbeat, its lease runs out, and the server ends its idle lock session.
    assert old.elector.backend_pid is not None
    terminate_backend(cluster.state_url, old.elector.backend_pid)
    cluster.clock.advance(FAST.lease_seconds)
    cluster.dead.add(old.name)
    await cluster.tick(FAST.campaign_seconds)
    await cluster.tick(FAST.takeover_delay_seconds)
    assert LEADER == new.elector.role

    async def old_leader_resumes() -> None:
        cluster.dead.discard(old.name)
        await old.elector.tick()  # it wakes up and learns it no longer leads
        stalls.release("/startstop/", lost=httpx.ReadTimeout("the answer arrived during the freeze"))
        await frozen

    if not new_leader_first:
        cluster.harness.at(at_utc(MONDAY, "19:00:06"))
        await old_leader_resumes()
    cluster.harness.at(at_utc(MONDAY, "19:00:10"))
    await new.daemon.inventory_cycle()
    recorded_by_new = new.daemon.store.get_applied(UUID(LLAMA_8B))
    if new_leader_first:
        cluster.harness.at(at_utc(MONDAY, "19:00:15"))
        await old_leader_resumes()

    stops = [record for record in cluster.harness.store.recent_actions(100) if record.action == "stop"]
    assert stops and all(record.result in ("success", "error") for record in stops)
    assert [] == [record.platform_message for record in stops if "not sent" in (record.platform_message or "")]
    assert ["Mon 19:00:00 llama-3-8b-chat stop -> 200"] == [
        str(call) for call in cluster.harness.calls() if call.at.hour == 19
    ]
    assert recorded_by_new is not None and "stopped" == recorded_by_new.kind
    assert recorded_by_new == new.daemon.store.get_applied(UUID(LLAMA_8B))
