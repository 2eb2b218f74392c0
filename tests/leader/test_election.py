"""Electing one leader among instances on one PostgreSQL database, and handing over on a clean stop."""

from __future__ import annotations

import psycopg
import pytest
from structlog.testing import capture_logs

from scaler.store.leader import LEADER, STANDBY
from tests.doc_pages import marked_section
from tests.leader.conftest import FAST, ElectorFactory, FakeClock, changes, fresh_metrics
from tests.pg import PostgresServer

pytestmark = pytest.mark.integration


async def test_exactly_one_of_two_becomes_leader(make_elector: ElectorFactory, clock: FakeClock) -> None:
    """Of two electors on separate connections, one takes the lock and leads; the other stays standby while it lives."""
    first, second = make_elector(clock=clock, identity="a"), make_elector(clock=clock, identity="b")
    await first.tick()
    await second.tick()
    assert (True, False) == (first.holds_lock, second.holds_lock)
    for _ in range(5):  # the leader heartbeats, the standby campaigns: nothing changes
        clock.advance(FAST.takeover_delay_seconds / 2)
        await first.tick()
        await second.tick()
    assert (LEADER, STANDBY) == (first.role, second.role)
    assert (True, False) == (first.may_act(), second.may_act())


async def test_standby_knows_who_leads(make_elector: ElectorFactory, clock: FakeClock) -> None:
    """A standby reports the leader's identity (from the lock holder's application name)."""
    first, second = make_elector(clock=clock, identity="scaler-0"), make_elector(clock=clock, identity="scaler-1")
    await first.tick()
    await second.tick()
    assert {"role": "standby", "leader": "scaler-0", "identity": "scaler-1", "lock_held": False} == {
        key: second.describe()[key] for key in ("role", "leader", "identity", "lock_held")
    }


async def test_new_leader_waits_out_the_takeover_delay(make_elector: ElectorFactory, clock: FakeClock) -> None:
    """The lock alone does not let an instance act: only a heartbeat after the takeover delay does."""
    elector = make_elector(clock=clock)
    await elector.tick()
    clock.advance(FAST.takeover_delay_seconds - 0.01)
    await elector.tick()
    assert (STANDBY, False, True) == (elector.role, elector.may_act(), elector.holds_lock)
    clock.advance(0.01)
    await elector.tick()
    assert (LEADER, True) == (elector.role, elector.may_act())


async def test_stop_hands_over_to_the_standby(make_elector: ElectorFactory, clock: FakeClock) -> None:
    """stop() releases the lock: the standby takes it at its next campaign and acts a takeover delay later."""
    first, second = make_elector(clock=clock), make_elector(clock=clock)
    await first.tick()
    clock.advance(FAST.takeover_delay_seconds)
    await first.tick()
    await second.tick()
    await first.stop()
    assert (STANDBY, False) == (first.role, first.may_act())
    clock.advance(FAST.campaign_seconds)
    await second.tick()
    assert (True, False) == (second.holds_lock, second.may_act())
    clock.advance(FAST.takeover_delay_seconds)
    await second.tick()
    assert (LEADER, True) == (second.role, second.may_act())


async def test_leadership_changes_are_counted_and_logged(make_elector: ElectorFactory, clock: FakeClock) -> None:
    """Acquiring and losing leadership set scaler_leader and count scaler_leadership_changes_total, with log lines."""
    metrics = fresh_metrics()
    elector = make_elector(clock=clock, metrics=metrics, identity="scaler-0")
    with capture_logs() as logs:
        await elector.tick()
        clock.advance(FAST.takeover_delay_seconds)
        await elector.tick()
        leading = metrics.registry.get_sample_value("scaler_leader")
        await elector.stop()
    assert (1.0, 0.0) == (leading, metrics.registry.get_sample_value("scaler_leader"))
    assert (1.0, 1.0) == (changes(metrics, "acquired"), changes(metrics, "lost"))
    events = [entry["event"] for entry in logs]
    assert ["leader_lock_acquired", "leadership_acquired", "leadership_lost", "leader_lock_released"] == events
    assert "stopped" == next(entry["reason"] for entry in logs if entry["event"] == "leadership_lost")


async def test_role_changes_reach_the_callbacks(make_elector: ElectorFactory, clock: FakeClock) -> None:
    """on_change callbacks see every role change, in order; one that raises does not stop the others."""
    seen: list[str] = []

    def broken(role: str) -> None:
        raise RuntimeError("callback bug")

    elector = make_elector(clock=clock)
    elector.on_change(broken)
    elector.on_change(seen.append)
    with capture_logs() as logs:
        await elector.tick()
        clock.advance(FAST.takeover_delay_seconds)
        await elector.tick()
        await elector.stop()
    assert [LEADER, STANDBY] == seen
    assert 2 == sum(entry["event"] == "leader_callback_failed" for entry in logs)


async def test_separate_state_databases_elect_separately(
    make_elector: ElectorFactory, postgres_server: PostgresServer, clock: FakeClock
) -> None:
    """Two installs with their own state databases on one server each elect their own leader."""
    other_url = postgres_server.take_database()
    try:
        here, there = make_elector(clock=clock), make_elector(clock=clock, url=other_url)
        await here.tick()
        await there.tick()
        assert (True, True) == (here.holds_lock, there.holds_lock)
        await there.stop()
    finally:
        postgres_server.give_back_database(other_url)


async def test_unreachable_database_keeps_it_standby_and_logs_once(
    make_elector: ElectorFactory, clock: FakeClock
) -> None:
    """Campaigns against a server that refuses connections fail quietly: standby, one log line, no password."""
    url = "postgresql://scaler:hunter2-secret@127.0.0.1:9/scaler?connect_timeout=2"
    elector = make_elector(clock=clock, url=url)
    with capture_logs() as logs:
        for _ in range(3):
            await elector.tick()
    assert (STANDBY, False) == (elector.role, elector.may_act())
    failures = [entry for entry in logs if entry["event"] == "leader_campaign_failed"]
    assert 1 == len(failures)
    assert "hunter2-secret" not in str(logs)


def docs_leader_query() -> str:
    """The SQL query of the high availability page that shows who leads."""
    section = marked_section("high-availability.md", "ha")
    return section.split("```sql")[1].split("```")[0]


async def test_docs_query_shows_the_leader(make_elector: ElectorFactory, postgres_url: str) -> None:
    """The high availability page's query finds exactly the leader's lock connection, named after the leader."""
    leader, standby = make_elector(identity="scaler-0"), make_elector(identity="scaler-1")
    await leader.tick()
    await standby.tick()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute(docs_leader_query()).fetchall()
    assert ["simplismart-scaler leader scaler-0"] == [row[0] for row in rows]
