"""Several daemons on one simulator and one PostgreSQL state, in one process, each with its own
elector, store connection, metrics and client, and a record of the requests each one sent.

Time: the daemons' clock is the harness's manual clock (schedules); the electors' clock is a
:class:`~tests.leader.conftest.FakeClock` the test moves, and the electors take a step only
when the test ticks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import httpx
from prometheus_client import CollectorRegistry

from scaler.daemon.service import Daemon
from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.retries import RetryPolicy
from scaler.store import open_store
from scaler.store.leader import PostgresElector, open_elector
from tests.daemon.harness import MUTATING, Harness, no_sleep
from tests.leader.conftest import FAST, FakeClock


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests on to ``inner`` and keeps the request id of each one sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.request_ids: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.request_ids.append(request.headers["x-request-id"])
        return await self.inner.handle_async_request(request)


@dataclass
class Replica:
    """One scaler instance."""

    name: str
    daemon: Daemon
    elector: PostgresElector
    metrics: Metrics
    transport: RecordingTransport
    closed: bool = field(default=False)

    def sample(self, name: str, **labels: str) -> float | None:
        """The value of one series of this replica's registry."""
        return self.metrics.registry.get_sample_value(name, labels)

    async def close(self) -> None:
        """Stop the elector and close the client and the store."""
        if not self.closed:
            self.closed = True
            await self.elector.stop()
            await self.daemon.aclose()


def make_replica(harness: Harness, state_url: str, name: str, clock: FakeClock) -> Replica:
    """A daemon on the harness's simulator and clock, on the state database ``state_url``."""
    metrics = Metrics(CollectorRegistry())
    transport = RecordingTransport(harness.transport)
    client = SimplismartClient.from_settings(
        harness.settings,
        transport=transport,
        metrics=metrics,
        sleep=no_sleep,
        limits=replace(Limits.from_settings(harness.settings), max_requests_per_second=math.inf),
        retry=replace(RetryPolicy.from_settings(harness.settings), wait_jitter_seconds=0.0),
    )
    elector = open_elector(state_url, timing=FAST, metrics=metrics, clock=clock, identity=name)
    assert isinstance(elector, PostgresElector)
    daemon = Daemon(
        settings=harness.settings,
        client=client,
        store=open_store(state_url),
        metrics=metrics,
        clock=harness.clock,
        elector=elector,
    )
    daemon.load_policies()
    return Replica(name, daemon, elector, metrics, transport)


def mutating_request_ids(harness: Harness) -> list[str]:
    """Request ids of the mutating calls in the simulator's request log, oldest first."""
    return [entry.request_id for entry in harness.sim.requests if entry.endpoint in MUTATING]


def senders(harness: Harness, replicas: list[Replica]) -> list[str]:
    """Which replica sent each mutating call of the simulator's request log, oldest first."""
    by_id = {request_id: replica.name for replica in replicas for request_id in replica.transport.request_ids}
    return [by_id.get(request_id, "?") for request_id in mutating_request_ids(harness)]
