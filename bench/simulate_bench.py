"""Benchmark of ``scaler simulate``: a week of 100 deployments under 10 policies, then 1,000, on one core.

Run:  .venv/bin/python bench/simulate_bench.py  [--deployments 100 1000] [--days 7]

It writes 10 policies (office hours in several zones with lead times, night and weekend
stops, cron peaks with lead time, health rules) to a temporary directory, generates an
organization of each size (varied accelerators and start-up delays, one Degraded event a
day for every tenth deployment), pins itself to one CPU and times the simulation with the
daemon's default settings and the report built from it, as ``scaler simulate -o json``
does. It prints the wall time and the CPU time (steadier on a shared machine), the
actions, the platform requests and the agreement of ``counted`` with ``realized``. Goals: under 10 s
for 100 deployments, under 60 s for 1,000 (45 s aimed for, so that the goal holds on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scaler.logs import configure_logging
from scaler.settings import load_settings
from scaler.sim.model import SeedDeployment, SeedDocument
from scaler.simulation.driver import run_simulation
from scaler.simulation.events import ScriptedEvent
from scaler.simulation.report import build_report
from scaler.simulation.run import SIMULATION_SETTINGS, SimulationInput

START = datetime(2026, 12, 7, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"]
ACCELERATORS = [("nvidia-l4", 1), ("nvidia-h100", 4), ("nvidia-a100", 2), ("nvidia-tesla-t4", 1), ("nvidia-a10g", 1)]
POLICIES = 10


def policy_text(index: int) -> tuple[str, int]:
    """Policy ``index`` and its baseline replicas."""
    zone = ZONES[index % len(ZONES)]
    head = f"  - name: bench-{index:02d}\n    match: {{names: [\"team{index:02d}-*\"]}}\n    timezone: {zone}\n"
    kind = index % 4
    if kind == 0:
        return head + (
            "    baseline_replicas: 2\n    default: stopped\n    windows:\n      - name: office\n"
            '        between: "Mon-Fri 08:00-18:00"\n        lead_time: 15m\n'
            "        state: {min_replicas: 2, max_replicas: 3}\n"
        ), 2
    if kind == 1:
        return head + (
            '    default: running\n    windows:\n      - name: night\n        between: "22:00-06:00"\n'
            "        state: stopped\n"
        ), 1
    if kind == 2:
        return head + (
            '    default: running\n    windows:\n      - name: weekend\n        between: "Sat,Sun 00:00-24:00"\n'
            "        state: stopped\n"
        ), 1
    return head + (
        "    baseline_replicas: 2\n    default: {min_replicas: 1, max_replicas: 2}\n    windows:\n"
        '      - name: peak\n        cron: "0 9 * * 1-5"\n        duration: 8h\n        lead_time: 20m\n'
        "        state: {min_replicas: 2, max_replicas: 4}\n    health:\n      - name: shrink\n"
        "        status: Degraded\n        for: 10m\n        state: {min_replicas: 1, max_replicas: 1}\n"
    ), 2


def organization(count: int, baselines: list[int]) -> tuple[SeedDocument, tuple[ScriptedEvent, ...]]:
    deployments, events = [], []
    for number in range(count):
        team = number % POLICIES
        accelerator, gpus = ACCELERATORS[(number // POLICIES) % len(ACCELERATORS)]
        deployment_id = f"00000000-0000-4000-8000-{number:012d}"
        deployments.append(
            SeedDeployment(
                deployment_id=deployment_id,
                deployment_name=f"team{team:02d}-model-{number:05d}",
                model_repo_id=None,
                model_repo_name=f"model-{number}",
                accelerator_type=(accelerator,),
                accelerator_count=gpus,
                min_replicas=baselines[team],
                max_replicas=4,
                startup_seconds=30.0 + 45.0 * (number % 9),
            )
        )
        if number % 10 == 3:
            at = START + timedelta(days=number % 7, hours=2 + number % 20, minutes=number % 60)
            events.append(ScriptedEvent(at, "health", "Degraded", deployment_id, timedelta(minutes=40)))
    return SeedDocument(deployments=tuple(deployments)), tuple(sorted(events, key=lambda event: event.at))


def measure(directory: Path, count: int, days: int) -> dict[str, float | int]:
    texts = [policy_text(index) for index in range(POLICIES)]
    path = directory / "policies.yaml"
    path.write_text("version: 1\npolicies:\n" + "".join(text for text, _ in texts))
    seed, events = organization(count, [baseline for _, baseline in texts])
    inputs = SimulationInput(
        seed=seed,
        policy_paths=(path,),
        start=START,
        until=START + timedelta(days=days),
        settings=load_settings(**SIMULATION_SETTINGS),
        events=events,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    run = run_simulation(inputs)
    document = build_report(run)
    json.dumps(document)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    hours = document["totals"]["gpu_hours"]
    return {
        "deployments": count,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "actions": sum(len(entry["actions"]) for entry in document["deployments"]),
        "requests": run.requests,
        "counted_vs_realized_percent": round(100 * (hours["counted"] - hours["realized"]) / hours["realized"], 3),
    }


def interpreter() -> str:
    """The Python running the benchmark as a command can name it: relative to the working directory
    when it is below it (``.venv/bin/python``), else by its name."""
    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith("..") else Path(sys.executable).name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--days", type=int, default=7)
    arguments = parser.parse_args(argv)
    configure_logging(log_format="json", log_level="critical")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"command: {' '.join([interpreter(), *sys.argv])}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}, one core, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(
        f"{'deployments':>11} {'days':>4} {'seconds':>8} {'cpu s':>8} {'actions':>8} {'requests':>9} "
        f"{'counted-realized':>17}"
    )
    with tempfile.TemporaryDirectory(prefix="simulate-bench-") as directory:
        for count in arguments.deployments:
            figures = measure(Path(directory), count, arguments.days)
            print(
                f"{figures['deployments']:>11,} {arguments.days:>4} {figures['seconds']:>8.2f} "
                f"{figures['cpu_seconds']:>8.2f} {figures['actions']:>8,} {figures['requests']:>9,} {figures['counted_vs_realized_percent']:>16.3f}%"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
