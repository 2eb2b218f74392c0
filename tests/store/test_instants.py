"""Instants: timezone-aware UTC in and out, whatever the zone given, and never a naive one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from scaler.store import AppliedState, Store
from tests.store.conftest import T0, at, intent

PARIS = ZoneInfo("Europe/Paris")


def test_instants_come_back_in_utc(store: Store) -> None:
    """An instant given in another zone is the same instant, read back with UTC as its zone."""
    deployment = uuid4()
    store.mark_seen([(deployment, "llama")], T0.astimezone(PARIS))
    first_seen = store.seen_deployments()[deployment].first_seen
    assert (T0, UTC) == (first_seen, first_seen.tzinfo)


def test_microseconds_are_kept(store: Store) -> None:
    """Both engines keep instants to the microsecond."""
    precise = T0 + timedelta(microseconds=123456)
    action_id = store.begin_action(intent(started_at=precise))
    assert precise == store.get_action(action_id).started_at  # type: ignore[union-attr]


def test_comparisons_use_the_instant_not_the_wall_clock(store: Store) -> None:
    """A suspension until 10:00 in Paris (09:00 UTC) has ended at 09:30 UTC, though 09:30 < 10:00."""
    deployment = uuid4()
    store.suspend(deployment, "llama", datetime(2025, 3, 3, 10, 0, tzinfo=PARIS), "r", T0, "alice")
    assert ({deployment}, set()) == (
        set(store.active_suspensions(datetime(2025, 3, 3, 8, 59, tzinfo=UTC))),
        set(store.active_suspensions(datetime(2025, 3, 3, 9, 30, tzinfo=UTC))),
    )


def test_counts_since_an_instant_in_another_zone(store: Store) -> None:
    """count_actions compares instants across zones too."""
    deployment = uuid4()
    action_id = store.begin_action(intent(deployment, "restart", started_at=at(0)))
    store.finish_action(action_id, result="success", finished_at=at(1))
    assert (1, 0) == (
        store.count_actions(deployment, "restart", since=(at(-1)).astimezone(PARIS)),
        store.count_actions(deployment, "restart", since=(at(1)).astimezone(PARIS)),
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda store: store.mark_seen([(uuid4(), "x")], datetime(2025, 3, 3, 8, 0)),
        lambda store: store.record_health([(uuid4(), "Healthy", datetime(2025, 3, 3, 8, 0))]),
        lambda store: store.active_suspensions(datetime(2025, 3, 3, 8, 0)),
        lambda store: store.set_backoff(uuid4(), datetime(2025, 3, 3, 8, 0), 1, "quota"),
        lambda store: store.count_actions(uuid4(), "stop", since=datetime(2025, 3, 3, 8, 0)),
    ],
    ids=["mark_seen", "record_health", "active_suspensions", "set_backoff", "count_actions"],
)
def test_naive_instant_is_refused(store: Store, call: object) -> None:
    """A datetime without a zone raises ValueError: the store never guesses the zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        call(store)  # type: ignore[operator]


def test_naive_instant_in_a_record_is_refused() -> None:
    """The records check their instants when they are built."""
    with pytest.raises(ValueError, match="applied_at must be timezone-aware"):
        AppliedState(kind="stopped", applied_at=datetime(2025, 3, 3, 8, 0))


def test_the_latest_instant_remembered_is_the_latest_of_states_health_and_actions(store: Store) -> None:
    """None on an empty store; then the latest of an applied state, a health observation and an action's start."""
    empty = store.latest_instant()
    deployment = uuid4()
    store.set_applied(deployment, AppliedState(kind="running", applied_at=at(5)))
    store.record_health([(deployment, "Healthy", at(30))])
    store.begin_action(intent(deployment, minutes=10))
    by_health = store.latest_instant()
    store.begin_action(intent(deployment, minutes=45))
    by_action = store.latest_instant()
    assert (None, at(30), at(45)) == (empty, by_health, by_action)
