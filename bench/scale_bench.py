"""Benchmark of the daemon at scale: 10,000 deployments on a simulator answering in 25 ms.

Run:  make bench      (or: .venv/bin/python bench/scale_bench.py [--quick] [--output PATH])

The simulator (``scaler sim --generate 10000``, 25 ms injected latency per request) and the
daemon (``scaler run``, ``SCALER_MAX_CONCURRENCY=50``) run as separate processes, pinned to
different cores when there are two; this driver shares the simulator's core and only samples
``/proc`` and reads the control API and a few metrics. Two daemon runs, each on a fresh state store:

* **cycles** (:mod:`scale.cycles`): every running deployment under health rules; the wall time
  of full health polls against the ideal ``N x latency / concurrency``, the CPU seconds per
  deployment of health polls and reconcile cycles, the peak RSS;
* **boundaries** (:mod:`scale.boundaries`): the default intervals; API requests per hour in
  steady state against a naive design, 1,000 calls at one boundary, 200 boundaries' precision.

It prints a table and writes every figure, the machine, the load average and the command to
``bench/results/scale.json``. ``--quick`` (1,000 deployments, 5 ms, seconds-long phases) checks the
harness itself; its figures mean nothing. It takes about 15 minutes; figures vary with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from scale.boundaries import measure_boundaries
from scale.cycles import measure_cycles
from scale.endpoints import SimulatorControl
from scale.processes import start_simulator, stop, usable_cores
from scale.report import command_line, figures, machine, table
from scale.runs import BenchConfig, BenchContext

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "scale.json"

QUICK = BenchConfig(
    deployments=1_000,
    latency_ms=5.0,
    cycle_reconcile_interval=2.0,
    cycle_health_interval=1.5,
    health_cycles=1,
    reconcile_cycles=1,
    reconcile_interval=2.0,
    health_interval=1.0,
    health_idle_interval=2.0,
    steady_seconds=2.0,
    batch_deployments=100,
    batch_lead_seconds=1.0,
    edge_boundaries=20,
    edge_gap_seconds=1.0,
    edge_spread_seconds=2,
    grace_seconds=5.0,
)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="a seconds-long check of the harness (figures mean nothing)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    parser.add_argument("--deployments", type=int, help="deployments the simulator generates")
    parser.add_argument("--latency-ms", type=float, help="latency injected into every platform request")
    parser.add_argument("--steady-seconds", type=float, help="steady-state window (a multiple of 300 s)")
    parser.add_argument("--edge-spread-seconds", type=int, help="seconds the 200 boundaries are spread over")
    parser.add_argument(
        "--only", choices=("cycles", "boundaries"), help="run one of the two daemon runs (for profiling)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, state, policies)")
    return parser.parse_args(argv)


def configure(options: argparse.Namespace) -> BenchConfig:
    config = QUICK if options.quick else BenchConfig()
    overrides = {
        "deployments": options.deployments,
        "latency_ms": options.latency_ms,
        "steady_seconds": options.steady_seconds,
        "edge_spread_seconds": options.edge_spread_seconds,
    }
    return replace(config, **{key: value for key, value in overrides.items() if value is not None})


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    config = configure(options)
    cores = usable_cores()
    simulator_core, daemon_core = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    if simulator_core is not None:
        os.sched_setaffinity(0, {simulator_core})  # the driver stays off the daemon's core
    load_start = [round(value, 2) for value in os.getloadavg()]
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    print(f"scale benchmark: {config.deployments:,} deployments, {config.latency_ms:g} ms latency, "
          f"concurrency {config.concurrency}; working in {workdir}", flush=True)
    simulator = start_simulator(
        config.deployments, core=simulator_core, request_log_limit=400_000, cwd=workdir
    )
    control = SimulatorControl(simulator.url)
    failed = True
    try:
        control.set_latency(config.latency_ms)
        context = BenchContext(config, workdir, simulator, control, daemon_core)
        cycles = boundaries = None
        if options.only in (None, "cycles"):
            print("run 1/2: cycles (every running deployment under health rules)", flush=True)
            cycles = measure_cycles(context)
            health, reconcile = cycles["health"] or {}, cycles["reconcile"] or {}
            print(f"  health poll {health.get('wall_seconds')} s for {health.get('requests')} "
                  f"(ratio {health.get('ratio')}), CPU {health.get('cpu_ms_per_deployment')} ms per health "
                  f"request and {reconcile.get('cpu_ms_per_deployment')} ms per deployment reconciled, "
                  f"peak RSS {cycles['peak_rss_mib']} MiB", flush=True)
        if options.only in (None, "boundaries"):
            print("run 2/2: steady state and boundaries (default intervals)", flush=True)
            boundaries = measure_boundaries(context)
            steady, edges, batch = boundaries["steady_state"], boundaries["edges"], boundaries["batch"]
            print(f"  {steady['requests_per_hour']:,} requests per hour; batch: last call after "
                  f"{batch.get('last_call_seconds')} s; boundaries p50 {edges.get('p50_seconds')} s, "
                  f"p99 {edges.get('p99_seconds')} s", flush=True)
        failed = False
    finally:
        control.close()
        stop(simulator.process)
        if failed or options.keep:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if cycles is None or boundaries is None:
        print("one run only: no table, no JSON")
        return 0
    result = {
        "command": command_line(),
        "quick": options.quick,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {
            **machine(),
            "load_average_start": load_start,
            "load_average_end": [round(value, 2) for value in os.getloadavg()],
            "cores": {"simulator": simulator_core, "daemon": daemon_core, "driver": simulator_core},
        },
        "config": asdict(config),
        "figures": figures(cycles, boundaries),
        "runs": {"cycles": cycles, "boundaries": boundaries},
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"load average: {load_start} at start, {result['machine']['load_average_end']} at end")
    print(f"written to {options.output}")
    return 0


if __name__ == "__main__":
    started_monotonic = time.monotonic()
    status = main()
    print(f"took {time.monotonic() - started_monotonic:.0f} s")
    raise SystemExit(status)
