"""Failover after the leader process dies (kill -9) or freezes like a vanished host: the standby takes over within
the documented bound."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import psycopg
import pytest

from scaler.store.leader import LEADER, STANDBY, LeaderTiming
from tests.leader.conftest import FAST, ElectorFactory

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
#: The product's promise: failover within 15 s of the leader's death.
FAILOVER_PROMISE_SECONDS = 15.0


async def start_holder(url: str, identity: str, timing: LeaderTiming) -> asyncio.subprocess.Process:
    """Start a process that takes the leader lock; return it once it holds the lock."""
    periods = (timing.heartbeat_seconds, timing.lease_seconds, timing.campaign_seconds, timing.takeover_delay_seconds)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.leader.holder", url, identity, *map(str, periods),
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert b"leader\n" == await asyncio.wait_for(holder.stdout.readline(), timeout=30)  # type: ignore[union-attr]
    except BaseException:
        holder.kill()
        await holder.wait()
        raise
    return holder


async def test_standby_takes_over_after_kill_9_of_the_leader_process(
    make_elector: ElectorFactory, postgres_url: str
) -> None:
    """A subprocess holding the leader lock is killed with SIGKILL: the in-process standby, with the default timing,
    takes the lock and starts acting within campaign + takeover delay, under 15 s (the figures are printed)."""
    timing = LeaderTiming()
    holder = await start_holder(postgres_url, "doomed-leader", timing)
    try:
        standby = make_elector(timing=timing, identity="standby")
        leads = asyncio.Event()
        acted_at: list[float] = []
        standby.on_change(lambda role: (acted_at.append(time.monotonic()), leads.set()) if role == LEADER else None)
        await standby.start()
        assert (STANDBY, "doomed-leader") == (standby.role, standby.describe()["leader"])
        holder.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.wait_for(leads.wait(), timeout=FAILOVER_PROMISE_SECONDS + 5)
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()
    assert standby.acting_from is not None
    locked_after = standby.acting_from - timing.takeover_delay_seconds - killed_at
    acting_after = acted_at[0] - killed_at
    print(
        f"kill -9 failover: lock taken {locked_after:.2f} s after the kill, acting after {acting_after:.2f} s "
        f"(bound: campaign {timing.campaign_seconds:g} s + takeover delay {timing.takeover_delay_seconds:g} s "
        f"= {timing.failover_bound_seconds:g} s; promise {FAILOVER_PROMISE_SECONDS:g} s)"
    )
    assert -signal.SIGKILL == holder.returncode
    assert acting_after < FAILOVER_PROMISE_SECONDS


async def test_server_frees_the_lock_of_a_frozen_leader(make_elector: ElectorFactory, postgres_url: str) -> None:
    """A leader process frozen with SIGSTOP (its socket open, silent, as when its host vanishes): the server ends its
    session after a lease of silence, and the standby acts while the old leader is still frozen."""
    holder = await start_holder(postgres_url, "frozen-leader", FAST)
    try:
        standby = make_elector(identity="standby")
        leads = asyncio.Event()
        standby.on_change(lambda role: leads.set() if role == LEADER else None)
        await standby.start()
        holder.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        await asyncio.wait_for(leads.wait(), timeout=FAST.dead_host_failover_bound_seconds + 10)
        acting_after = time.monotonic() - frozen_at
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            frozen_sessions = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s", ("%frozen-leader",)
            ).fetchone()
    finally:
        holder.kill()
        await holder.wait()
    print(
        f"frozen leader: standby acting after {acting_after:.2f} s "
        f"(bound lease + campaign + takeover delay = {FAST.dead_host_failover_bound_seconds:g} s)"
    )
    assert (0,) == frozen_sessions  # ended by the server, the process never woke
