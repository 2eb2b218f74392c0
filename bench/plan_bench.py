"""Benchmark of ``scaler plan``: 1,000 deployments under 20 policies over 168 hours, on one core.

Run:  .venv/bin/python bench/plan_bench.py  [--deployments 1000] [--policies 20] [--hours 168] [--repeat 5]

It writes 20 policies (office hours in several zones, night and weekend stops, cron
peaks with lead time, holidays, skip dates, health rules) and an inventory of 1,000
deployments to a temporary directory, pins itself to one CPU, and times:
- the engine alone (``build_plan`` + ``to_json``) with fresh policy objects each run;
- the whole command in-process (load and validate the files, read the inventory,
  plan, render the JSON), as ``scaler plan --output json`` does it;
- the command as a subprocess, interpreter start-up included.
The figures printed are the median and the worst of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from scaler.cli.main import main
from scaler.policy.loader import load_policy_set
from scaler.policy.plan import build_plan
from scaler.simplismart.models import Deployment

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"]
ACCELERATORS = [("nvidia-l4", 1), ("nvidia-h100", 4), ("nvidia-a100", 2), ("nvidia-tesla-t4", 1), ("nvidia-a10g", 1)]


def policy_text(index: int) -> str:
    zone = ZONES[index % len(ZONES)]
    kind = index % 4
    header = (
        f"  - name: bench-{index:02d}\n"
        f'    match: {{names: ["team{index:02d}-*"], exclude_names: ["*-canary"]}}\n'
        f"    timezone: {zone}\n"
        '    skip_dates: ["2026-12-24..2026-12-26", "2027-01-01"]\n'
    )
    if kind == 0:
        body = (
            "    default: stopped\n"
            "    windows:\n"
            "      - {name: holiday, from: \"2026-12-24T00:00\", until: \"2026-12-27T00:00\", state: stopped}\n"
            "      - {name: office, between: \"Mon-Fri 08:00-19:00\", lead_time: 10m, state: {min_replicas: 1, max_replicas: 3}}\n"
        )
    elif kind == 1:
        body = (
            "    default: {min_replicas: 1, max_replicas: 2}\n"
            "    windows:\n"
            "      - {name: peak, cron: \"0 9 * * 1-5\", duration: 9h, lead_time: 20m, state: {min_replicas: 2, max_replicas: 6}}\n"
            "      - {name: lunch, cron: \"30 12 * * 1-5\", duration: 90m, state: {min_replicas: 3, max_replicas: 6}}\n"
            "      - {name: night, between: \"22:00-06:00\", state: stopped}\n"
        )
    elif kind == 2:
        body = (
            "    default: running\n"
            "    windows:\n"
            "      - {name: weekend, between: \"Sat,Sun 00:00-24:00\", state: stopped}\n"
            "      - {name: night, between: \"Mon-Fri 20:00-07:00\", state: stopped}\n"
        )
    else:
        body = (
            "    default: {min_replicas: 1, max_replicas: 4}\n"
            "    windows:\n"
            "      - {name: batch, cron: \"0 */4 * * *\", duration: 1h, state: {min_replicas: 2, max_replicas: 4}}\n"
            "      - {name: sundays, cron: \"0 0 * * 0,7\", duration: 1d, state: stopped}\n"
            "    health:\n"
            "      - {name: shrink, status: Degraded, for: 10m, state: {min_replicas: 1, max_replicas: 1}}\n"
            "      - {name: restart, status: Unhealthy, for: 15m, action: restart}\n"
        )
    return header + body


def write_inputs(directory: Path, deployments: int, policies: int) -> tuple[Path, Path]:
    policy_dir = directory / "policies"
    policy_dir.mkdir()
    per_file = 5
    for first in range(0, policies, per_file):
        text = "version: 1\npolicies:\n" + "".join(policy_text(i) for i in range(first, min(first + per_file, policies)))
        (policy_dir / f"bench-{first:02d}.yaml").write_text(text)
    inventory = []
    for number in range(deployments):
        accelerator, count = ACCELERATORS[number % len(ACCELERATORS)]
        team = number % policies
        suffix = "-canary" if number % 50 == 49 else ""
        inventory.append(
            {
                "deployment_id": str(uuid.UUID(int=number + 1)),
                "deployment_name": f"team{team:02d}-model-{number:04d}{suffix}",
                "model_repo_id": str(uuid.UUID(int=10_000 + team)),
                "model_repo_name": f"repo-{team}",
                "model_type": "custom",
                "accelerator_type": [accelerator],
                "accelerator_count": count,
                "status": "DEPLOYED",
            }
        )
    inventory_path = directory / "inventory.json"
    inventory_path.write_text(json.dumps(inventory))
    return policy_dir, inventory_path


def timed(function, repeat: int) -> list[float]:
    results = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        results.append(time.perf_counter() - started)
    return results


def describe(label: str, seconds: list[float]) -> str:
    return f"{label:<44} median {statistics.median(seconds) * 1000:8.1f} ms   worst {max(seconds) * 1000:8.1f} ms"


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--hours", type=int, default=168)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    start = datetime(2026, 12, 21, tzinfo=timezone.utc)
    until = start + timedelta(hours=options.hours)
    with tempfile.TemporaryDirectory() as temporary:
        policy_dir, inventory_path = write_inputs(Path(temporary), options.deployments, options.policies)
        deployments = [Deployment.model_validate(item) for item in json.loads(inventory_path.read_text())]

        def engine() -> None:
            policy_set = load_policy_set([policy_dir])  # fresh policies: no memoised schedule
            json.dumps(build_plan(policy_set, deployments, start, until).to_json())

        command = [
            "plan", "--policies", str(policy_dir), "--inventory", str(inventory_path),
            "--from", start.isoformat(), "--hours", str(options.hours), "--output", "json",
        ]

        def in_process() -> None:
            result = CliRunner().invoke(main, command)
            if result.exit_code != 0:
                raise SystemExit(result.output)

        def subprocess_run() -> None:
            subprocess.run([sys.executable, "-m", "scaler", *command], check=True, stdout=subprocess.DEVNULL)

        policy_set = load_policy_set([policy_dir])
        plan = build_plan(policy_set, deployments, start, until)
        transitions = sum(len(entry.transitions) for entry in plan.deployments)
        engine_times = timed(engine, options.repeat)
        command_times = timed(in_process, options.repeat)
        subprocess_times = timed(subprocess_run, max(1, options.repeat // 2))
    print(f"scaler plan benchmark: {options.deployments} deployments, {options.policies} policies, {options.hours} h")
    print(f"python {platform.python_version()} on {platform.machine()}, pinned to one CPU, {options.repeat} runs")
    print(f"transitions planned: {transitions}; saving {plan.savings_percent:.1f} %")
    print(describe("load policies + build_plan + JSON", engine_times))
    print(describe("scaler plan --output json (in-process)", command_times))
    print(describe("scaler plan --output json (subprocess)", subprocess_times))
    print("reproduce: .venv/bin/python bench/plan_bench.py")


if __name__ == "__main__":
    run()
