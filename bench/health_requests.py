"""CPU per health request: the daemon's hot path measured apart, before and after each change to it.

Run:  .venv/bin/python bench/health_requests.py [--deployments 4000] [--latency-ms 25] [--rounds 5]
                                                [--mode poll|client|aiohttp] [--profile pyinstrument]

Starts ``scaler sim --generate N`` in its own process (pinned to the second core where there are
two, 25 ms of latency injected into every platform request) and, in this process (pinned to the
first core), fetches the health of every DEPLOYED deployment the way the daemon does:

* ``--mode poll`` (default): ``HealthPoller.poll`` with a ``SimplismartClient`` (50 slots, the rate
  limit far out of the way, metrics on a fresh registry, JSON logs at info level to /dev/null, the
  token registered as a secret) and a fresh SQLite state store: the client, the poll's bookkeeping
  and the store, as in a full health poll of ``make bench``;
* ``--mode client``: the same requests through ``SimplismartClient.get_health`` alone, 500 workers;
* ``--mode aiohttp``: the same requests as bare ``aiohttp`` GETs (50 connections, 50 workers, the body
  read, nothing parsed): the floor any client over aiohttp stands on, against the same simulator.

Each round prints its wall time against the ideal ``requests x latency / 50``, this process's
CPU seconds per request (``time.process_time``, every thread), the mean time of a request from
send to answer read and the simulator's CPU per request; the last line gives the median of
the rounds after the first (which opens the connections). ``--profile pyinstrument`` profiles one
more round and prints the profile. Nothing is asserted; figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import aiohttp
from prometheus_client import CollectorRegistry
from scale.endpoints import SimulatorControl
from scale.processes import cpu_seconds, start_simulator, stop, usable_cores

from scaler.daemon.health_polling import HealthPoller
from scaler.daemon.organization import OrganizationState
from scaler.logs import configure_logging
from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.models import DeploymentStatus
from scaler.simplismart.token import TokenSource
from scaler.store.opening import open_store

CONCURRENCY = 50
CLIENT_WORKERS = 500


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deployments", type=int, default=4_000, help="deployments the simulator generates")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="latency injected into every request")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the first one not counted")
    parser.add_argument("--mode", choices=("poll", "client", "aiohttp"), default="poll")
    parser.add_argument("--profile", choices=("pyinstrument",), default=None, help="profile one more round")
    return parser.parse_args()


async def fetch_all(client: SimplismartClient, ids: list[UUID]) -> None:
    """Fetch every deployment's health once through the client, ``CLIENT_WORKERS`` at a time."""
    pending = iter(ids)

    async def worker() -> None:
        for deployment_id in pending:
            await client.get_health(deployment_id)

    await asyncio.gather(*(worker() for _ in range(min(CLIENT_WORKERS, len(ids)))))


async def fetch_bare(url: str, token: str, ids: list[UUID], timings: list[float]) -> None:
    """GET every deployment's health once with aiohttp alone, 50 at a time; append each request's seconds."""
    pending = iter(ids)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for deployment_id in pending:
                began = time.perf_counter()
                path = f"/deployments/model-deployment/fetch-status/{deployment_id}/"
                async with session.get(f"{url}{path}", headers=headers) as answer:
                    if answer.status != 200:
                        raise RuntimeError(f"HTTP {answer.status} for {deployment_id}")
                    await answer.read()
                timings.append(time.perf_counter() - began)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def request_seconds(metrics: Metrics) -> tuple[float, float]:
    """The client's health requests so far and their seconds from send to answer read (its histogram)."""
    labels = {"endpoint": "get_health", "method": "GET", "status_code": "200"}
    registry = metrics.registry
    count = registry.get_sample_value("scaler_api_request_duration_seconds_count", labels) or 0.0
    total = registry.get_sample_value("scaler_api_request_duration_seconds_sum", labels) or 0.0
    return count, total


async def measure(
    arguments: argparse.Namespace, url: str, token: str, org_id: str, workdir: Path, simulator_pid: int
) -> list[float]:
    """Run the rounds; return each counted round's CPU milliseconds per request."""
    metrics = Metrics(CollectorRegistry())
    client = SimplismartClient(
        base_url=url,
        token=TokenSource(token=token),
        org_id=UUID(org_id),
        limits=Limits(max_concurrency=CONCURRENCY, max_requests_per_second=10_000.0),
        metrics=metrics,
    )
    store = open_store(f"sqlite:///{workdir / 'state.db'}")
    organization = OrganizationState(metrics=metrics)
    poller = HealthPoller(
        client=client, store=store, metrics=metrics, organization=organization, idle_interval_seconds=0.0
    )
    async with client:
        deployments = await client.list_deployments()
        running = [d for d in deployments if d.status is DeploymentStatus.DEPLOYED]
        watched = {d.deployment_id for d in running}
        ids = [d.deployment_id for d in running]

        timings: list[float] = []

        async def one_round() -> None:
            if arguments.mode == "aiohttp":
                await fetch_bare(url, token, ids, timings)
            elif arguments.mode == "poll":
                poll = await poller.poll(deployments, watched, datetime.now(UTC))
                if poll.fetched != len(running) or len(poll.tracks) < len(running):
                    raise RuntimeError(f"{poll.fetched} fetched, {len(poll.tracks)} recorded of {len(running)}")
            else:
                await fetch_all(client, ids)

        ideal = len(running) * arguments.latency_ms / 1000 / CONCURRENCY
        print(
            f"{len(running)} requests a round ({arguments.mode}), {arguments.latency_ms:g} ms latency, "
            f"{CONCURRENCY} slots: ideal {ideal:.2f} s"
        )
        per_request: list[float] = []
        ratios: list[float] = []
        for number in range(arguments.rounds):
            held = request_seconds(metrics)
            timings.clear()
            simulator_cpu = cpu_seconds(simulator_pid) or 0.0
            cpu, wall = time.process_time(), time.perf_counter()
            await one_round()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            simulator_cpu = (cpu_seconds(simulator_pid) or 0.0) - simulator_cpu
            if timings:
                held = [len(timings), sum(timings)]
            else:
                held = [after - before for after, before in zip(request_seconds(metrics), held, strict=True)]
            milliseconds = cpu / len(running) * 1000
            print(
                f"round {number + 1}: {wall:.2f} s wall ({wall / ideal:.2f} x ideal), "
                f"{cpu:.2f} s CPU, {milliseconds:.3f} ms CPU a request, "
                f"{held[1] / held[0] * 1000:.1f} ms a request from send to answer read, "
                f"simulator {simulator_cpu / len(running) * 1000:.3f} ms CPU a request"
                f"{'  (not counted)' if number == 0 else ''}"
            )
            if number > 0:
                per_request.append(milliseconds)
                ratios.append(wall / ideal)
        if per_request:
            print(
                f"median of {len(per_request)} rounds: {statistics.median(per_request):.3f} ms CPU a request, "
                f"{statistics.median(ratios):.2f} x ideal (min {min(per_request):.3f} ms)"
            )
        if arguments.profile == "pyinstrument":
            from pyinstrument import Profiler  # noqa: PLC0415 - only when profiling

            profiler = Profiler(interval=0.0005, async_mode="disabled")
            with profiler:
                await one_round()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    store.close()
    return per_request


def main() -> int:
    arguments = parse_arguments()
    cores = usable_cores()
    sim_core = cores[1] if len(cores) > 1 else None
    if cores and len(cores) > 1:
        os.sched_setaffinity(0, {cores[0]})
    with tempfile.TemporaryDirectory(prefix="health-bench-") as tmp:
        workdir = Path(tmp)
        simulator = start_simulator(arguments.deployments, core=sim_core, request_log_limit=1, cwd=workdir)
        control = SimulatorControl(simulator.url)
        try:
            control.set_latency(arguments.latency_ms)
            with open(os.devnull, "w") as devnull:
                stderr, sys.stderr = sys.stderr, devnull
                configure_logging(log_format="json", log_level="info")  # the daemon's, into /dev/null
                try:
                    pid = simulator.process.pid
                    asyncio.run(measure(arguments, simulator.url, simulator.token, simulator.org_id, workdir, pid))
                finally:
                    sys.stderr = stderr
        finally:
            control.close()
            stop(simulator.process)
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
