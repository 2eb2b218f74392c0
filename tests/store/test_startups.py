"""Start-up times: recorded per deployment, the newest kept, forgotten with the deployment."""

from __future__ import annotations

from uuid import uuid4

from scaler.store import Store
from tests.store.conftest import at


def test_start_ups_are_returned_oldest_first(store: Store) -> None:
    """Each recording returns the deployment's start-ups in the order they were observed."""
    deployment = uuid4()
    store.record_startup(deployment, at(20), 600.0, keep=20)
    assert [600.0, 180.5] == store.record_startup(deployment, at(40), 180.5, keep=20)
    assert {deployment: [600.0, 180.5]} == store.startups()


def test_only_the_newest_are_kept(store: Store) -> None:
    """With ``keep=3`` the fourth start-up drops the oldest."""
    deployment = uuid4()
    for minute, seconds in enumerate([100.0, 200.0, 300.0, 400.0]):
        kept = store.record_startup(deployment, at(minute), seconds, keep=3)
    assert [200.0, 300.0, 400.0] == kept
    assert {deployment: [200.0, 300.0, 400.0]} == store.startups()


def test_deployments_keep_their_own(store: Store) -> None:
    """One deployment's start-ups neither count nor prune another's."""
    first, second = uuid4(), uuid4()
    store.record_startup(first, at(0), 60.0, keep=1)
    store.record_startup(second, at(1), 120.0, keep=1)
    store.record_startup(second, at(2), 180.0, keep=1)
    assert {first: [60.0], second: [180.0]} == store.startups()


def test_a_forgotten_deployment_loses_its_start_ups(store: Store) -> None:
    """A deployment gone from the platform is forgotten with its start-up times."""
    deployment = uuid4()
    store.record_startup(deployment, at(0), 60.0, keep=20)
    store.forget(deployment)
    assert {} == store.startups()
