"""Fixtures of the leader election suite: a clock the test moves, electors that are always stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from scaler.metrics import Metrics
from scaler.store.leader import LeaderElector, LeaderTiming, PostgresElector, open_elector

#: Periods short enough for real-time tests (seconds): H, L, C, D.
FAST = LeaderTiming(heartbeat_seconds=0.1, lease_seconds=0.5, campaign_seconds=0.1, takeover_delay_seconds=0.7)


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A clock under the test's control, shared by every elector the test makes."""
    return FakeClock()


ElectorFactory = Callable[..., PostgresElector]


@pytest.fixture
async def make_elector(postgres_url: str) -> AsyncIterator[ElectorFactory]:
    """Make PostgreSQL electors on the test's database (``url=`` for another); all stopped afterwards."""
    made: list[LeaderElector] = []

    def make(**options: Any) -> PostgresElector:
        url = options.pop("url", postgres_url)
        options.setdefault("timing", FAST)
        elector = open_elector(url, **options)
        assert isinstance(elector, PostgresElector)
        made.append(elector)
        return elector

    yield make
    for elector in made:
        await elector.stop()


def fresh_metrics() -> Metrics:
    """Metrics on a registry of their own."""
    return Metrics(CollectorRegistry())


def changes(metrics: Metrics, change: str) -> float | None:
    """The value of ``scaler_leadership_changes_total{change=...}``."""
    return metrics.registry.get_sample_value("scaler_leadership_changes_total", {"change": change})


def terminate_backend(url: str, pid: int) -> None:
    """End server process ``pid`` from another connection, and wait until it is gone (so are its locks)."""
    with psycopg.connect(url, autocommit=True) as admin:
        terminated = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
    assert (True,) == terminated
