"""The store's one access: failures reported once (counted, logged), its health kept (StoreAccess on its own)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.store import ActionNotPending, Saved, Store, StoreError, open_store

REFUSED = {(uuid4(), date(2026, 3, 2)): Saved(-1.0, 0.0)}
"""A write the store refuses (a saving is never negative)."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def errors(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("scaler_reconcile_errors_total") or 0.0


async def test_a_failed_write_is_reported_once_and_makes_the_store_unhealthy(store: Store) -> None:
    """The failure is counted, logged as store_failed with its operation, and raised to the caller."""
    registry = CollectorRegistry()
    access = StoreAccess(store, Metrics(registry))
    with capture_logs() as logs, pytest.raises(StoreError):
        await access.write("add_savings", REFUSED)
    assert False is access.healthy
    assert 1.0 == errors(registry)
    assert [("store_failed", "add_savings")] == [(line["event"], line.get("operation")) for line in logs]


async def test_a_successful_write_makes_the_store_healthy_again_and_a_read_does_not(store: Store) -> None:
    """Health follows the writes: a read answered after a failed write does not say the store takes writes."""
    access = StoreAccess(store, Metrics(CollectorRegistry()))
    with pytest.raises(StoreError):
        await access.write("add_savings", REFUSED)
    assert [] == await access.read("recent_actions", 5)
    assert False is access.healthy
    await access.write("mark_seen", [(uuid4(), "llama")], datetime(2026, 3, 2, tzinfo=UTC))
    assert True is access.healthy


async def test_a_view_reports_under_its_own_event_and_shares_the_health(store: Store) -> None:
    """A part's view logs its own event with its fields; the failure is seen by the whole daemon."""
    access = StoreAccess(store, Metrics(CollectorRegistry()))
    view = access.reporting("store_write_failed", effect="said once")
    with capture_logs() as logs, pytest.raises(StoreError):
        await view.write("add_savings", REFUSED)
    assert False is access.healthy
    assert [("store_write_failed", "add_savings", "said once")] == [
        (line["event"], line["operation"], line["effect"]) for line in logs
    ]


async def test_an_action_settled_elsewhere_is_an_answer_not_a_failure(store: Store) -> None:
    """ActionNotPending reaches the caller unreported: the store answered."""
    registry = CollectorRegistry()
    access = StoreAccess(store, Metrics(registry))
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with capture_logs() as logs, pytest.raises(ActionNotPending):
        await access.write("finish_action", 12345, result="success", finished_at=now)
    assert True is access.healthy
    assert 0.0 == errors(registry)
    assert [] == logs
