"""Suspensions a person sets, and the backoffs the daemon keeps after failures."""

from __future__ import annotations

from uuid import uuid4

import pytest

from scaler.store import Backoff, Store, Suspension
from tests.store.conftest import at


def test_suspension_is_active_until_its_end(store: Store) -> None:
    """A suspension is in force before ``until`` and not at or after it."""
    deployment = uuid4()
    suspension = store.suspend(deployment, "llama", at(60), "incident 42", at(0), "alice")
    assert (
        {deployment: suspension},
        {},
    ) == (store.active_suspensions(at(59)), store.active_suspensions(at(60)))


def test_suspension_keeps_name_reason_and_author(store: Store) -> None:
    """Everything `scaler suspensions` shows is read back."""
    deployment = uuid4()
    store.suspend(deployment, "llama", at(60), "launch", at(0), "alice")
    assert Suspension(deployment, "llama", at(60), "launch", at(0), "alice") == store.all_suspensions()[deployment]


def test_new_suspension_replaces_the_old_one(store: Store) -> None:
    """Suspending again extends or shortens the suspension."""
    deployment = uuid4()
    store.suspend(deployment, "llama", at(60), "first", at(0), "alice")
    store.suspend(deployment, "llama", at(600), "longer", at(1), "bob")
    assert ("longer", at(600), "bob") == (
        store.all_suspensions()[deployment].reason,
        store.all_suspensions()[deployment].until,
        store.all_suspensions()[deployment].created_by,
    )


def test_resume_ends_a_suspension(store: Store) -> None:
    """resume returns True and the deployment is no longer suspended."""
    deployment = uuid4()
    store.suspend(deployment, "llama", at(60), "incident", at(0), "alice")
    assert (True, {}) == (store.resume(deployment), store.active_suspensions(at(1)))


def test_resume_without_suspension_returns_false(store: Store) -> None:
    """Nothing to resume is False, not an error."""
    assert store.resume(uuid4()) is False


def test_all_suspensions_includes_expired_ones(store: Store) -> None:
    """Expired suspensions stay listed until resumed."""
    expired, active = uuid4(), uuid4()
    store.suspend(expired, "a", at(10), "r", at(0), "alice")
    store.suspend(active, "b", at(100), "r", at(0), "alice")
    assert ({expired, active}, {active}) == (set(store.all_suspensions()), set(store.active_suspensions(at(50))))


def test_backoff_round_trips(store: Store) -> None:
    """A backoff is read back as set."""
    deployment = uuid4()
    store.set_backoff(deployment, at(2), 2, "quota: no GPUs left")
    assert {deployment: Backoff(deployment, at(2), 2, "quota: no GPUs left")} == store.backoffs()


def test_backoff_is_replaced(store: Store) -> None:
    """The next failure doubles the wait: the new backoff replaces the old one."""
    deployment = uuid4()
    store.set_backoff(deployment, at(1), 1, "quota")
    store.set_backoff(deployment, at(3), 2, "quota")
    assert Backoff(deployment, at(3), 2, "quota") == store.backoffs()[deployment]


def test_clear_backoff_reports_whether_there_was_one(store: Store) -> None:
    """clear_backoff removes it and says True; a second clear says False."""
    deployment = uuid4()
    store.set_backoff(deployment, at(1), 1, "quota")
    assert (True, False, {}) == (store.clear_backoff(deployment), store.clear_backoff(deployment), store.backoffs())


def test_backoff_failures_must_be_a_count(store: Store) -> None:
    """A negative or non-integer failure count is a bug in the caller."""
    with pytest.raises(ValueError, match="failures must be a count"):
        store.set_backoff(uuid4(), at(1), -1, "quota")
