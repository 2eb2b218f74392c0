"""Health tracking: the current value, since when it holds, when it was last observed."""

from __future__ import annotations

from uuid import uuid4

from scaler.store import HealthTrack, Store
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
