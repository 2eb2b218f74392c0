"""The state store's cost per deployment per cycle, at 10,000 deployments, on SQLite and PostgreSQL.

One "cycle" is what a daemon cycle asks of the store: mark the inventory seen, record a
health poll (a tenth of the values changing), read the applied states, suspensions,
backoffs, health tracks and rule memory, write rule memory for 1% of the deployments,
and begin then finish 20 actions with their applied states. CPU is this process's
(the daemon's side); PostgreSQL's own work is on the server.

    .venv/bin/python -m bench.store_cycle                 # SQLite file + a throw-away PostgreSQL
    .venv/bin/python -m bench.store_cycle --deployments 1000 --cycles 3
    .venv/bin/python -m bench.store_cycle --url postgresql://user:pass@host/db
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from scaler.logs import configure_logging
from scaler.store import ActionIntent, ActionOutcome, AppliedState, Store, open_store

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
ACTIONS_PER_CYCLE = 20


def run_cycle(store: Store, deployments: list[tuple[UUID, str]], cycle: int) -> None:
    """Do one daemon cycle's worth of store calls at T0 + ``cycle`` minutes."""
    now = T0 + timedelta(minutes=cycle)
    store.mark_seen(deployments, now)
    store.record_health(
        (d, "Degraded" if (i + cycle) % 10 == 0 else "Healthy", now) for i, (d, _) in enumerate(deployments)
    )
    store.all_applied()
    store.active_suspensions(now)
    store.backoffs()
    store.all_rule_memory()
    store.put_rule_memory((d, "policy", "degraded", {"cycle": cycle}) for d, _ in deployments[::100])
    acting = deployments[cycle * ACTIONS_PER_CYCLE : (cycle + 1) * ACTIONS_PER_CYCLE]
    ids = store.begin_actions(ActionIntent(d, name, "stop", now, {"cycle": cycle}, "bench") for d, name in acting)
    store.finish_actions(
        (i, ActionOutcome("success", now, applied=AppliedState("stopped", now, source="bench"))) for i in ids
    )


def measure(url: str, count: int, cycles: int) -> dict[str, float]:
    """Return the median wall and CPU milliseconds per cycle, and CPU microseconds per deployment."""
    deployments = [(UUID(int=i + 1), f"deployment-{i}") for i in range(count)]
    walls, cpus = [], []
    with open_store(url) as store:
        run_cycle(store, deployments, 0)  # first sightings and first tracks: not the steady state
        for cycle in range(1, cycles + 1):
            wall, cpu = time.perf_counter(), time.process_time()
            run_cycle(store, deployments, cycle)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return {
        "wall_ms_per_cycle": statistics.median(walls) * 1000,
        "cpu_ms_per_cycle": statistics.median(cpus) * 1000,
        "cpu_us_per_deployment": statistics.median(cpus) / count * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--url", help="a PostgreSQL URL to measure instead of starting a throw-away server")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    configure_logging(log_format="json", log_level="warning")

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/state.db", args.deployments, args.cycles)
    if args.url:
        results["postgresql"] = measure(args.url, args.deployments, args.cycles)
    else:
        from tests.pg import LocalPostgres, NoPostgres, find_postgres_bindir

        bindir = find_postgres_bindir()
        if bindir is None:
            print("postgresql: skipped (no server binaries; pass --url)")
        else:
            try:
                local = LocalPostgres(bindir)
            except NoPostgres as exc:
                print(f"postgresql: skipped ({exc})")
            else:
                try:
                    server = local.start()
                    url = server.create_database()
                    results["postgresql"] = measure(url, args.deployments, args.cycles)
                    server.close()
                finally:
                    local.stop()

    print(
        f"{args.deployments} deployments, median of {args.cycles} cycles, {platform.processor() or platform.machine()}"
    )
    print(f"{'backend':<12}{'wall ms/cycle':>15}{'CPU ms/cycle':>15}{'CPU us/deployment':>20}")
    for backend, figures in results.items():
        print(
            f"{backend:<12}{figures['wall_ms_per_cycle']:>15.1f}{figures['cpu_ms_per_cycle']:>15.1f}"
            f"{figures['cpu_us_per_deployment']:>20.1f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"deployments": args.deployments, "cycles": args.cycles, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
