"""Measured savings: GPU-seconds and dollars added up per deployment and UTC day, kept SAVINGS_DAYS days."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest

from scaler.store import Saved, Store, StoreError
from scaler.store.measured_savings import SAVINGS_DAYS

DAY = date(2025, 3, 3)


def test_amounts_of_one_day_add_up(store: Store) -> None:
    """Each cycle's amounts are added to what the deployment's day already holds."""
    deployment = uuid4()
    store.add_savings({(deployment, DAY): Saved(600.0, 1.25)})
    store.add_savings({(deployment, DAY): Saved(300.0, 0.5)})
    assert {deployment: Saved(900.0, 1.75)} == store.savings_since(DAY)


def test_savings_since_sums_the_days_from_the_first_one_on(store: Store) -> None:
    """A window from a day on sums that day and the later ones, per deployment; earlier days are left out."""
    first, second = uuid4(), uuid4()
    store.add_savings(
        {
            (first, DAY - timedelta(days=7)): Saved(10_000.0, 40.0),
            (first, DAY - timedelta(days=6)): Saved(3600.0, 2.0),
            (first, DAY): Saved(7200.0, 4.0),
            (second, DAY): Saved(1800.0, 0.0),
        }
    )
    assert {first: Saved(10_800.0, 6.0)} == {
        key: saved for key, saved in store.savings_since(DAY - timedelta(days=6)).items() if key == first
    }
    assert {first: Saved(7200.0, 4.0), second: Saved(1800.0, 0.0)} == store.savings_since(DAY)
    assert {} == store.savings_since(DAY + timedelta(days=1))


def test_days_older_than_the_kept_ones_are_dropped(store: Store) -> None:
    """Adding a day drops every day more than SAVINGS_DAYS before it, of every deployment."""
    old, recent = uuid4(), uuid4()
    oldest_kept = DAY - timedelta(days=SAVINGS_DAYS - 1)
    store.add_savings(
        {(old, oldest_kept - timedelta(days=1)): Saved(100.0, 1.0), (recent, oldest_kept): Saved(200.0, 2.0)}
    )
    store.add_savings({(recent, DAY): Saved(50.0, 0.0)})
    assert {recent: Saved(250.0, 2.0)} == store.savings_since(DAY - timedelta(days=365))


def test_nothing_to_add_writes_nothing(store: Store) -> None:
    """An empty batch (a dry run, a cycle that saved nothing) leaves the table as it was."""
    store.add_savings({})
    assert {} == store.savings_since(DAY - timedelta(days=365))


def test_negative_amounts_are_refused(store: Store) -> None:
    """A saving is never negative: the table refuses one rather than lowering a day's total."""
    with pytest.raises(StoreError):
        store.add_savings({(uuid4(), DAY): Saved(-1.0, 0.0)})
