"""Leader election among scaler instances that share one state database: who may act, and until when.

``open_elector(settings.state_url, timing=LeaderTiming.from_settings(settings))`` returns a
:class:`LeaderElector`: a :class:`PostgresElector` (an advisory lock, a heartbeat and a
lease; :mod:`scaler.store.leader.postgres`) on PostgreSQL, a :class:`SingleInstanceElector`
(always the leader) on SQLite. The daemon starts it in its event loop, checks
``may_act()`` immediately before every mutating call, and stops it on shutdown. Why two
instances never act at once, and how fast a standby takes over: :mod:`scaler.store.leader.timing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from scaler.metrics import Metrics
from scaler.store.leader.elector import LEADER, STANDBY, LeaderElector, Role, SingleInstanceElector
from scaler.store.leader.postgres import PostgresElector
from scaler.store.leader.timing import LeaderTiming
from scaler.store.url import SqliteLocation, parse_state_url

__all__ = [
    "LEADER",
    "STANDBY",
    "LeaderElector",
    "LeaderTiming",
    "PostgresElector",
    "Role",
    "SingleInstanceElector",
    "open_elector",
]


def open_elector(
    state_url: str,
    *,
    timing: LeaderTiming | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    identity: str | None = None,
) -> LeaderElector:
    """Return the elector for the state database ``state_url`` (the value of ``SCALER_STATE_URL``).

    A :class:`PostgresElector` for ``postgresql://`` URLs, a :class:`SingleInstanceElector`
    for SQLite. Nothing is connected before :meth:`LeaderElector.start`. ``identity`` names
    this instance to the others (default ``HOSTNAME:PID``; in Kubernetes the pod name).

    Raises :class:`~scaler.store.StoreConfigError` for a bad URL and ``ValueError`` for an
    unsafe ``timing``.
    """
    location = parse_state_url(state_url)
    if isinstance(location, SqliteLocation):
        return SingleInstanceElector(metrics=metrics, clock=clock)
    return PostgresElector(location, timing=timing or LeaderTiming(), metrics=metrics, clock=clock, identity=identity)
