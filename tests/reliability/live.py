"""The daemon as it runs in production (its APScheduler jobs, its client with retries and rate
limit), in process against the simulator, on virtual time.

:func:`live_daemon` builds a :class:`~tests.daemon.harness.Harness` whose clocks are those of a
:class:`~tests.reliability.virtual_time.VirtualTime`: the daemon's wall clock, the simulator's
and APScheduler's are the (virtual) system clock, the client sleeps and measures on the
virtual monotonic clock, and the daemon's liveness too. The daemon's requests go through a
:class:`Network`, which notes when each one left (monotonic and wall) and may damage it on
the way (scenario 1's faults). Nothing sleeps for real: a simulated day takes seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from scaler.daemon.clock import system_clock
from scaler.daemon.scheduler import DaemonScheduler
from tests.daemon.harness import NAMES, Harness, describe_request
from tests.reliability.virtual_time import VirtualTime

#: Endpoint of a platform path, as the simulator names them.
MUTATING_PATHS = {"update-replicas": "update_replicas", "startstop": "startstop", "delete": "delete"}

#: What a fault hook may do with one request: return an answer (the platform is not reached) or None.
FaultHook = Callable[[httpx.Request, "Network"], Awaitable[httpx.Response | None]]


@dataclass(frozen=True)
class Sent:
    """One request the daemon sent: when (virtual monotonic seconds and wall clock), what, what came back."""

    elapsed: float
    wall: datetime
    endpoint: str
    deployment: str
    action: str
    status: int | None
    reached: bool
    """Whether the platform handled it (a fault may answer before, or lose the answer after)."""

    def __str__(self) -> str:
        return f"{self.wall:%H:%M:%S} (+{self.elapsed:.0f}s) {self.deployment} {self.action} -> {self.status}"


def _endpoint(path: str) -> str:
    if path.startswith("/deployments/list"):
        return "list_deployments"
    if "fetch-status" in path:
        return "get_health"
    for part, endpoint in MUTATING_PATHS.items():
        if f"/{part}/" in path:
            return endpoint
    return "other"


def _deployment(path: str) -> str:
    for part in path.split("/"):
        if part in NAMES:
            return NAMES[part]
    parts = [part for part in path.split("/") if len(part) == 36]
    return parts[0] if parts else "-"


class Network(httpx.AsyncBaseTransport):
    """The daemon's way to the platform: notes every request, and lets ``fault`` answer or damage it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, time: VirtualTime, fault: FaultHook | None = None) -> None:
        self.inner = inner
        self.time = time
        self.fault = fault
        self.sent: list[Sent] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the platform (unless the fault hook answers instead) and note it."""
        elapsed, wall = self.time.elapsed, self.time.now()
        endpoint = _endpoint(request.url.path)
        body: Any = None
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body = None
        note = {"elapsed": elapsed, "wall": wall, "endpoint": endpoint, "deployment": _deployment(request.url.path)}
        note["action"] = describe_request(endpoint, body)
        if self.fault is not None:
            try:
                answer = await self.fault(request, self)
            except BaseException:
                self.sent.append(Sent(**note, status=None, reached=getattr(request, "reached", False)))
                raise
            if answer is not None:
                self.sent.append(Sent(**note, status=answer.status_code, reached=False))
                return answer
        response = await self.forward(request)
        self.sent.append(Sent(**note, status=response.status_code, reached=True))
        return response

    async def forward(self, request: httpx.Request) -> httpx.Response:
        """Pass ``request`` to the platform and return its whole answer."""
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    def mutations(self) -> list[Sent]:
        """The mutating requests sent, oldest first."""
        return [sent for sent in self.sent if sent.endpoint in MUTATING_PATHS.values()]


@dataclass
class Live:
    """A daemon running on virtual time: its harness, its scheduler, its network."""

    time: VirtualTime
    harness: Harness
    network: Network
    scheduler: DaemonScheduler | None = None

    def start(self) -> None:
        """Start the daemon's scheduler as ``Daemon.run`` does (the first reconcile at once)."""
        scheduler = self.harness.daemon.build_scheduler()
        scheduler.start(self.time.now())
        self.scheduler = scheduler

    async def stop(self) -> None:
        """Stop the scheduler as a SIGTERM does (jobs in flight finish)."""
        if self.scheduler is not None:
            await self.scheduler.stop(timeout_seconds=60)
            self.scheduler = None

    async def restart(self) -> None:
        """Stop, then a new daemon process on the same store and platform, started."""
        await self.stop()
        await self.harness.daemon.client.aclose()
        self.harness.restart()
        self.start()

    def job_errors(self) -> float:
        """Jobs that failed (caught and counted by the scheduler) in the current daemon."""
        return self.harness.sample("scaler_scheduler_events_total", event="error") or 0.0


@asynccontextmanager
async def live_daemon(
    tmp_path: Path,
    *,
    policies: str,
    start: datetime,
    fault: FaultHook | None = None,
    client_options: dict[str, Any] | None = None,
    scheduler: bool = True,
    **harness_options: Any,
) -> AsyncIterator[Live]:
    """A daemon on virtual time from ``start`` (its scheduler started); stopped and closed afterwards.

    ``fault`` damages the daemon's requests (see :class:`Network`); ``client_options`` and
    ``harness_options`` go to the client and the :class:`Harness`. Without ``scheduler``
    nothing runs by itself: the test drives the harness's cycles.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    async with VirtualTime(start) as time:
        networks: list[Network] = []

        def network(inner: httpx.AsyncBaseTransport) -> Network:
            networks.append(Network(inner, time, fault))
            return networks[-1]

        options = {
            "sleep": asyncio.sleep,
            "clock": time.monotonic,
            **(client_options or {}),
        }
        harness = Harness(
            tmp_path,
            policies=policies,
            start=start,
            clock=system_clock,
            sim_sleep=asyncio.sleep,
            client_options=options,
            network=network,
            monotonic=time.monotonic,
            **harness_options,
        )
        live = Live(time=time, harness=harness, network=networks[0])
        try:
            if scheduler:
                live.start()
            yield live
        finally:
            await live.stop()
            await harness.close()
