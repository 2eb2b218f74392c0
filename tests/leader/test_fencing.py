"""The fence: a leader that loses its lock connection, or whose heartbeat stalls, stops acting
before another instance may start, proven with the lease and takeover arithmetic on a clock the
test moves, and by the real sequence of events."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from structlog.testing import capture_logs

from scaler.store.leader import LEADER, STANDBY, PostgresElector
from tests.conftest import skip_or_fail
from tests.leader.conftest import FAST, ElectorFactory, FakeClock, changes, fresh_metrics, terminate_backend
from tests.pg import PostgresServer

pytestmark = pytest.mark.integration


async def leading(elector: PostgresElector, clock: FakeClock) -> None:
    """Make ``elector`` take the lock and, a takeover delay later, lead."""
    await elector.tick()
    clock.advance(FAST.takeover_delay_seconds)
    await elector.tick()
    assert LEADER == elector.role


async def test_severed_leader_loses_its_permission_before_the_next_leader_gains_it(
    make_elector: ElectorFactory, postgres_url: str, clock: FakeClock
) -> None:
    """Lock connection terminated, the leader not yet aware: its lease ends before the new leader's takeover
    delay does."""
    old, new = make_elector(clock=clock), make_elector(clock=clock)
    await leading(old, clock)
    assert old.backend_pid is not None
    terminate_backend(postgres_url, old.backend_pid)
    clock.advance(0.01)
    await new.tick()
    assert (True, LEADER) == (new.holds_lock, old.role)  # the old leader has not noticed yet
    assert new.acting_from is not None and old.lease_expires_at is not None
    assert old.lease_expires_at < new.acting_from
    clock.now = old.lease_expires_at - 0.001
    assert (True, False) == (old.may_act(), new.may_act())
    clock.now = old.lease_expires_at
    assert (False, False) == (old.may_act(), new.may_act())
    clock.now = new.acting_from
    await new.tick()
    assert (False, True) == (old.may_act(), new.may_act())


async def test_leader_steps_down_at_its_first_failed_heartbeat(
    make_elector: ElectorFactory, postgres_url: str, clock: FakeClock
) -> None:
    """Lock connection terminated: the next heartbeat fails and the leader steps down at once, counted and logged."""
    metrics = fresh_metrics()
    elector = make_elector(clock=clock, metrics=metrics)
    await leading(elector, clock)
    assert elector.backend_pid is not None
    terminate_backend(postgres_url, elector.backend_pid)
    clock.advance(FAST.heartbeat_seconds)
    with capture_logs() as logs:
        await elector.tick()
    assert (STANDBY, False, False) == (elector.role, elector.may_act(), elector.holds_lock)
    assert (1.0, 0.0) == (changes(metrics, "lost"), metrics.registry.get_sample_value("scaler_leader"))
    assert [("leader_heartbeat_failed", "heartbeat_failed"), ("leadership_lost", "heartbeat_failed")] == [
        (entry["event"], entry["reason"]) for entry in logs
    ]


async def test_stepped_down_leader_campaigns_again(
    make_elector: ElectorFactory, postgres_url: str, clock: FakeClock
) -> None:
    """After stepping down, an instance takes the free lock again at its next campaign, with a new takeover delay."""
    elector = make_elector(clock=clock)
    await leading(elector, clock)
    assert elector.backend_pid is not None
    first_pid = elector.backend_pid
    terminate_backend(postgres_url, first_pid)
    await elector.tick()
    await elector.tick()
    assert (True, STANDBY) == (elector.holds_lock, elector.role)
    assert first_pid != elector.backend_pid


async def test_real_sequence_after_severing_the_leader(make_elector: ElectorFactory, postgres_url: str) -> None:
    """Running loops, real clock: when the standby starts to act, the old leader has already stepped down."""
    old, new = make_elector(identity="old"), make_elector(identity="new")
    old_leads, new_leads = asyncio.Event(), asyncio.Event()
    seen_when_new_leads: list[tuple[str, bool]] = []
    old.on_change(lambda role: old_leads.set() if role == LEADER else None)

    def on_new(role: str) -> None:
        if role == LEADER:
            seen_when_new_leads.append((old.role, old.may_act()))
            new_leads.set()

    new.on_change(on_new)
    await old.start()
    await asyncio.wait_for(old_leads.wait(), timeout=10)
    await new.start()
    assert STANDBY == new.role
    assert old.backend_pid is not None
    terminate_backend(postgres_url, old.backend_pid)
    await asyncio.wait_for(new_leads.wait(), timeout=10)
    assert [(STANDBY, False)] == seen_when_new_leads


@contextmanager
def paused(pid: int) -> Iterator[None]:
    """Freeze server process ``pid`` (SIGSTOP) for the block: its queries hang, its socket stays open."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture
def local_server(postgres_server: PostgresServer) -> PostgresServer:
    """The session's server, when it runs here (its processes can be signalled)."""
    if postgres_server.datadir is None:
        skip_or_fail("stalling a heartbeat needs a server started by the tests (SCALERTEST_POSTGRES_URL is set)")
    return postgres_server


async def test_stalled_heartbeat_ends_permission_at_lease_expiry(
    make_elector: ElectorFactory, clock: FakeClock, local_server: PostgresServer
) -> None:
    """The lock's server process frozen mid-heartbeat: may_act turns false at last heartbeat + lease while the
    heartbeat still hangs, and the leader steps down when the heartbeat deadline passes."""
    elector = make_elector(clock=clock)
    await leading(elector, clock)
    assert elector.backend_pid is not None and elector.lease_expires_at is not None
    expiry = elector.lease_expires_at
    with capture_logs() as logs, paused(elector.backend_pid):
        clock.advance(FAST.heartbeat_seconds)
        heartbeat = asyncio.create_task(elector.tick())
        await asyncio.sleep(0)  # the heartbeat is sent and hangs
        acting_just_before = (LEADER, True) == (elector.role, elector.may_act())
        clock.now = expiry
        stopped_at_expiry = not elector.may_act()
        await heartbeat
    assert (True, True) == (acting_just_before, stopped_at_expiry)
    assert (STANDBY, False) == (elector.role, elector.holds_lock)
    assert ["heartbeat_timeout"] == [entry["reason"] for entry in logs if entry["event"] == "leadership_lost"]


async def test_stalled_heartbeat_steps_down_with_the_real_clock(
    make_elector: ElectorFactory, local_server: PostgresServer
) -> None:
    """Running loop, real clock, server process frozen: the leader steps down by itself and says how long after its
    last confirmed heartbeat."""
    elector = make_elector()
    leads, stepped_down = asyncio.Event(), asyncio.Event()
    elector.on_change(lambda role: (leads if role == LEADER else stepped_down).set())
    await elector.start()
    await asyncio.wait_for(leads.wait(), timeout=10)
    assert elector.backend_pid is not None
    with capture_logs() as logs, paused(elector.backend_pid):
        await asyncio.wait_for(stepped_down.wait(), timeout=10)
        assert False is elector.may_act()
    lost = next(entry for entry in logs if entry["event"] == "leadership_lost")
    print(f"stalled heartbeat: stepped down {lost['since_heartbeat_seconds']} s after the last confirmed one "
          f"(lease {FAST.lease_seconds} s, heartbeat {FAST.heartbeat_seconds} s)")
    assert "heartbeat_timeout" == lost["reason"]
