"""How many requests per second the simulator serves on one core.

Starts ``scaler sim`` as a separate process pinned to one core (where the OS allows),
drives it from this process (pinned to another core) over concurrent keep-alive
connections with a minimal HTTP/1.1 client, and prints requests per second for:

* list deployments, default seed (13 deployments);
* fetch-status, default seed (cycling over every deployment that has a health);
* list deployments, 10,000 generated deployments;
* fetch-status, 10,000 generated deployments.

Each scenario runs ``--repeat`` times on a fresh simulator and the best run is
reported: on a shared machine the other runs measure the neighbours as well.

Run: ``.venv/bin/python bench/sim_throughput.py [--duration 3] [--repeat 3] [--connections 32]``.
Figures go to stdout; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scale.report import cpu_model

TOKEN = "sim-token"
ROOT = Path(__file__).resolve().parent.parent
#: Read buffer per connection: large enough for a 10,000-deployment list (about 3 MB) in one go.
STREAM_LIMIT = 8 * 1024 * 1024


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    response_bytes: int
    server_cpu: float | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) used so far by process ``pid``, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_simulator(extra: Sequence[str], core: int | None) -> tuple[subprocess.Popen[str], int]:
    """Start ``scaler sim --port 0`` (pinned to ``core``); return the process and its port."""
    scaler = Path(sys.executable).with_name("scaler")
    command = [str(scaler), "sim", "--port", "0", "--request-log-limit", "10000", *extra]

    def pin() -> None:
        if core is not None:
            os.sched_setaffinity(0, {core})

    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, preexec_fn=pin, cwd=ROOT)
    assert process.stdout is not None
    first = process.stdout.readline()
    if "listening on" not in first:
        process.kill()
        raise SystemExit(f"the simulator did not start: {first!r}")
    return process, int(first.rsplit(":", 1)[1])


def stop_simulator(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def fetch(port: int, path: str) -> bytes:
    """One request on a fresh connection (setup only: ids to poll)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=STREAM_LIMIT)
    writer.write(request_bytes(path))
    await writer.drain()
    status, body = await read_response(reader)
    writer.close()
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}")
    return body


def request_bytes(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {TOKEN}\r\nX-Request-Id: bench\r\n\r\n".encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


async def drive(
    port: int, paths: Sequence[bytes], *, connections: int, duration: float, warmup: float, server_pid: int
) -> Result:
    """Send requests over ``connections`` keep-alive connections for ``warmup + duration`` seconds."""
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    counts = {"requests": 0, "errors": 0, "bytes": 0}
    latencies: list[float] = []
    cpu_marks: list[float | None] = []

    async def mark_cpu() -> None:
        await asyncio.sleep(warmup)
        cpu_marks.append(cpu_seconds(server_pid))
        await asyncio.sleep(duration)
        cpu_marks.append(cpu_seconds(server_pid))

    async def worker(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=STREAM_LIMIT)
        position = index
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(paths[position % len(paths)])
                position += connections
                status, body = await read_response(reader)
                done = time.perf_counter()
                if sent >= measure_from:
                    counts["requests"] += 1
                    counts["bytes"] += len(body)
                    if status != 200:
                        counts["errors"] += 1
                    if len(latencies) < 200_000:
                        latencies.append(done - sent)
        finally:
            writer.close()

    await asyncio.gather(mark_cpu(), *(worker(i) for i in range(connections)))
    server_cpu = None
    if len(cpu_marks) == 2 and cpu_marks[0] is not None and cpu_marks[1] is not None:
        server_cpu = (cpu_marks[1] - cpu_marks[0]) / duration
    return Result("", counts["requests"], counts["errors"], duration, latencies, counts["bytes"], server_cpu)


async def scenario(
    name: str, sim_args: Sequence[str], kind: str, *, core: int | None, connections: int, duration: float
) -> Result:
    process, port = start_simulator(sim_args, core)
    try:
        if kind == "list":
            paths = [request_bytes("/deployments/list/model/")]
        else:
            listed = json.loads(await fetch(port, "/deployments/list/model/"))
            ids = [item["deployment_id"] for item in listed if item["status"] != "DELETED"]
            paths = [request_bytes(f"/deployments/model-deployment/fetch-status/{i}/") for i in ids]
        warmup = 1.0
        result = await drive(
            port, paths, connections=connections, duration=duration, warmup=warmup, server_pid=process.pid
        )
        result.name = name
        return result
    finally:
        stop_simulator(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per run (after 1 s of warm-up)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is reported")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--generated", type=int, default=10_000, help="deployments in the generated organization")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the simulator and the driver to cores")
    args = parser.parse_args()

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinned = not args.no_pin and len(cores) >= 2
    server_core = cores[0] if pinned else None
    if pinned:
        os.sched_setaffinity(0, {cores[1]})

    print(f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}")
    print(
        f"simulator pinned to core {server_core}, driver to core {cores[1]}"
        if pinned
        else "simulator and driver not pinned"
    )
    print(
        f"{args.connections} keep-alive connections, {args.duration:g} s measured per run, "
        f"best of {args.repeat} runs per scenario\n"
    )
    scenarios = [
        ("list, default seed", [], "list"),
        ("fetch-status, default seed", [], "health"),
        (f"list, {args.generated:,} deployments", ["--generate", str(args.generated)], "list"),
        (f"fetch-status, {args.generated:,} deployments", ["--generate", str(args.generated)], "health"),
    ]
    print(f"{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'MB/s':>7} {'errors':>7} {'sim CPU':>8}")
    for name, sim_args, kind in scenarios:
        runs = [
            asyncio.run(
                scenario(name, sim_args, kind, core=server_core, connections=args.connections, duration=args.duration)
            )
            for _ in range(max(1, args.repeat))
        ]
        result = max(runs, key=lambda run: run.per_second)
        ordered = sorted(result.latencies) or [0.0]
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        megabytes = result.response_bytes / result.seconds / 1e6
        cpu = f"{result.server_cpu:.0%}" if result.server_cpu is not None else "n/a"
        figures = f"{result.per_second:>9,.0f} {p50:>8.1f} {p99:>8.1f} {megabytes:>7.1f} {result.errors:>7} {cpu:>8}"
        print(f"{name:<34} {figures}")


if __name__ == "__main__":
    main()
