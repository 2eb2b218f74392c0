"""Health tracking: the current value, since when it holds, when it was last observed."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from scaler.store import HealthChange, HealthTrack, Store
from scaler.store.opening import connect
from scaler.store.health_tables import HEALTH_HISTORY_CHANGES
from tests.store.conftest import at


def test_first_observation_starts_the_track(store: Store) -> None:
    """A first value holds since its observation."""
    deployment = uuid4()
    assert {deployment: HealthTrack("Healthy", at(0), at(0))} == store.record_health([(deployment, "Healthy", at(0))])


def test_same_value_keeps_its_since(store: Store) -> None:
    """Observing the same value again moves only last_observed."""
    deployment = uuid4()
    store.record_health([(deployment, "Degraded", at(0))])
    assert {deployment: HealthTrack("Degraded", at(0), at(10))} == store.record_health(
        [(deployment, "Degraded", at(10))]
    )


def test_changed_value_restarts_since(store: Store) -> None:
    """A new value holds since the observation that showed it."""
    deployment = uuid4()
    store.record_health([(deployment, "Healthy", at(0)), (deployment, "Healthy", at(5))])
    assert {deployment: HealthTrack("Degraded", at(10), at(10))} == store.record_health(
        [(deployment, "Degraded", at(10))]
    )


def test_older_observation_is_ignored(store: Store) -> None:
    """A slow answer observed before the recorded one does not overwrite it."""
    deployment = uuid4()
    store.record_health([(deployment, "Degraded", at(10))])
    assert {deployment: HealthTrack("Degraded", at(10), at(10))} == store.record_health(
        [(deployment, "Healthy", at(5))]
    )


def test_batch_records_each_deployment(store: Store) -> None:
    """One call records a whole health poll and returns every deployment's track."""
    first, second = uuid4(), uuid4()
    store.record_health([(first, "Healthy", at(0))])
    tracks = store.record_health([(first, "Unhealthy", at(1)), (second, "Healthy", at(1))])
    assert {first: HealthTrack("Unhealthy", at(1), at(1)), second: HealthTrack("Healthy", at(1), at(1))} == tracks


def test_health_tracks_returns_every_track(store: Store) -> None:
    """health_tracks reads back everything recorded."""
    deployments = [uuid4() for _ in range(3)]
    store.record_health([(d, "Healthy", at(0)) for d in deployments])
    assert set(deployments) == set(store.health_tracks())


def test_large_poll_is_recorded_in_one_call(store: Store) -> None:
    """10,000 observations in one batch, half of them changes, give the right tracks."""
    deployments = [uuid4() for _ in range(10000)]
    store.record_health([(d, "Healthy", at(0)) for d in deployments])
    tracks = store.record_health([(d, "Healthy" if i % 2 else "Degraded", at(1)) for i, d in enumerate(deployments)])
    assert (5000, 5000) == (
        sum(1 for t in tracks.values() if t.since == at(0)),
        sum(1 for t in tracks.values() if t.since == at(1) and t.value == "Degraded"),
    )


def test_empty_poll_returns_nothing(store: Store) -> None:
    """No observation, no track."""
    assert {} == store.record_health([])


def test_health_history_starts_with_the_first_observation(store: Store) -> None:
    """A first value is the history's first change, still in force."""
    deployment = uuid4()
    store.record_health([(deployment, "Healthy", at(0))])
    assert [HealthChange("Healthy", at(0), None)] == store.health_history(deployment, at(5))


def test_health_history_adds_a_row_per_change_only(store: Store) -> None:
    """Repeated values add nothing; each change adds one entry, newest first, ended by the next."""
    deployment, other = uuid4(), uuid4()
    store.record_health([(deployment, "Healthy", at(0)), (other, "Healthy", at(0))])
    store.record_health([(deployment, "Healthy", at(1)), (other, "Healthy", at(1))])
    store.record_health([(deployment, "Degraded", at(2)), (other, "Healthy", at(2))])
    store.record_health([(deployment, "Degraded", at(3))])
    store.record_health([(deployment, "Healthy", at(4))])
    store.record_health([(deployment, "Unhealthy", at(1))])  # older than the recorded observation: ignored
    assert [
        HealthChange("Healthy", at(4), None),
        HealthChange("Degraded", at(2), at(4)),
        HealthChange("Healthy", at(0), at(2)),
    ] == store.health_history(deployment, at(5))
    assert [HealthChange("Healthy", at(0), None)] == store.health_history(other, at(5))


def test_health_history_lasted_counts_to_now_while_in_force(store: Store) -> None:
    """How long a value held: to the next change, or to now for the current one."""
    deployment = uuid4()
    store.record_health([(deployment, "Healthy", at(0))])
    store.record_health([(deployment, "Degraded", at(30))])
    current, earlier = store.health_history(deployment, at(45))
    assert (timedelta(minutes=15), timedelta(minutes=30)) == (current.lasted(at(45)), earlier.lasted(at(45)))


def test_health_history_keeps_seven_days_of_changes(store: Store, state_url: str) -> None:
    """Changes that ended more than 7 days before the latest one are deleted; the one in force then stays."""
    deployment = uuid4()
    day = 24 * 60
    store.record_health([(deployment, "Healthy", at(0))])
    store.record_health([(deployment, "Degraded", at(1 * day))])
    store.record_health([(deployment, "Healthy", at(2 * day))])
    store.record_health([(deployment, "Degraded", at(9 * day + 1))])
    assert [at(9 * day + 1), at(2 * day)] == [c.since for c in store.health_history(deployment, at(9 * day + 1))]
    assert 2 == _history_rows(state_url, deployment)


def test_health_history_read_leaves_out_changes_ended_over_seven_days_ago(store: Store) -> None:
    """Reading later leaves out what ended before the 7 days, though no change pruned it yet."""
    deployment = uuid4()
    day = 24 * 60
    store.record_health([(deployment, "Healthy", at(0))])
    store.record_health([(deployment, "Degraded", at(day))])
    assert 2 == len(store.health_history(deployment, at(8 * day - 1)))
    assert [HealthChange("Degraded", at(day), None)] == store.health_history(deployment, at(8 * day + 1))


def test_health_history_keeps_at_most_200_changes(store: Store, state_url: str) -> None:
    """A deployment flapping every minute keeps its 200 latest changes."""
    deployment = uuid4()
    for minute in range(250):
        store.record_health([(deployment, "Healthy" if minute % 2 else "Degraded", at(minute))])
    history = store.health_history(deployment, at(250))
    assert (HEALTH_HISTORY_CHANGES, at(249), at(50)) == (len(history), history[0].since, history[-1].since)
    assert HEALTH_HISTORY_CHANGES == _history_rows(state_url, deployment)


def test_forgotten_deployment_loses_its_health_history(store: Store) -> None:
    """A deployment the platform no longer has leaves no history behind."""
    deployment = uuid4()
    store.record_health([(deployment, "Healthy", at(0))])
    store.forget(deployment)
    assert [] == store.health_history(deployment, at(1))


def _history_rows(state_url: str, deployment: UUID) -> int:
    """The history rows left in the database (not what a read shows)."""
    db = connect(state_url)
    try:
        with db.transaction(write=False) as cursor:
            row = cursor.execute("SELECT COUNT(*) FROM health_history WHERE deployment_id = ?", (str(deployment),))
            return int(row.fetchone()[0])
    finally:
        db.close()
