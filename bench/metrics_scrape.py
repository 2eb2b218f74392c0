"""Benchmark of one scrape of ``/metrics``: series, bytes and render time by deployment detail.

Run:  .venv/bin/python bench/metrics_scrape.py  [--deployments 1000 10000] [--repeat 5]

For each deployment count and each ``SCALER_METRICS_DEPLOYMENT_DETAIL`` (full, compact,
off) it fills a fresh ``scaler.metrics.Metrics`` as the daemon's cycles leave it: the
deployments of ``scaler sim --generate N`` (their names, ids, accelerators and statuses),
20 policies and a sixth of the deployments under none, health for those polled, bounds
or stopped as desired, a next transition within a week, and savings counters holding
fractional values (the longest numbers the text can carry). It then times
``Metrics.exposition()``, the body ``/metrics`` serves, pinned to one CPU, and prints the
series (sample lines), the bytes (and gzipped, as Prometheus asks for it), and the
median and worst render time of ``--repeat`` renders.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass

from scaler.metrics import DEPLOYMENT_DETAILS, DeploymentDetail, DeploymentSeries, Metrics
from scaler.sim.seed import generate_seed

POLICIES = [f"{kind}-{zone}" for kind in ("office-hours", "night-stop", "weekend-stop", "peak-scale")
            for zone in ("berlin", "new-york", "kolkata", "sydney", "utc")]
HEALTH_WHEN_DEPLOYED = (("Healthy", 90), ("Degraded", 4), ("Progressing", 3), ("Unhealthy", 2), ("Unknown", 1))
#: The goal for the default detail at 10,000 deployments (docs/performance.md, Metrics at scale):
#: a scrape a common Prometheus accepts from one target, written well within a scrape interval.
GOAL = {"detail": "compact", "deployments": 10_000, "bytes": 8_000_000, "seconds": 0.3}


@dataclass(frozen=True)
class Figures:
    """What one scrape of one detail at one deployment count measures."""

    deployments: int
    detail: str
    series: int
    bytes: int
    gzip_bytes: int
    median_seconds: float
    worst_seconds: float


def filled_metrics(deployments: int, detail: DeploymentDetail, *, rng_seed: int = 0) -> Metrics:
    """Return a Metrics of ``detail`` holding ``deployments`` deployments as the daemon's cycles leave them."""
    rng = random.Random(rng_seed)
    metrics = Metrics(deployment_detail=detail)
    healths = [health for health, _ in HEALTH_WHEN_DEPLOYED]
    weights = [weight for _, weight in HEALTH_WHEN_DEPLOYED]
    now = time.time()
    for policy in POLICIES:
        metrics.initialise_policy(policy)
    for seeded in generate_seed(deployments, rng_seed=rng_seed).deployments:
        policy = "" if rng.random() < 1 / 6 else rng.choice(POLICIES)
        deployed = seeded.status == "DEPLOYED"
        series = metrics.deployments.track(DeploymentSeries(
            seeded.deployment_name, seeded.deployment_id, policy, seeded.accelerator_type[0], status=seeded.status,
        ))
        if deployed:
            series.health = rng.choices(healths, weights)[0]
            series.pods_ready = seeded.min_replicas
            series.running_gpus = seeded.min_replicas * seeded.accelerator_count
        elif seeded.status == "SCALED_DOWN":
            series.health = "SCALED_DOWN"
        if policy:
            if deployed:
                series.desired_min, series.desired_max = seeded.min_replicas, seeded.max_replicas
            series.desired_running = 1 if deployed else 0
            series.next_transition = float(int(now) + rng.randrange(60, 7 * 86400, 60))
            metrics.deployments.add_saving(series, gpu_seconds=rng.uniform(0, 5e6), dollars=rng.uniform(0, 2e4))
        else:
            series.desired_running = -1
    return metrics


def measure(deployments: int, detail: DeploymentDetail, repeat: int) -> Figures:
    """Render the scrape of ``deployments`` deployments in ``detail`` ``repeat`` times; return its figures."""
    metrics = filled_metrics(deployments, detail)
    seconds = []
    body = b""
    for _ in range(repeat):
        started = time.perf_counter()
        body = metrics.exposition()
        seconds.append(time.perf_counter() - started)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return Figures(deployments, detail, series, len(body), len(gzip.compress(body, compresslevel=1)),
                   statistics.median(seconds), max(seconds))


def table(rows: list[Figures]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| deployments | detail | series | series per deployment | bytes | gzipped | render median | render worst |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        off = next(r.series for r in rows if r.deployments == row.deployments and r.detail == "off")
        lines.append(
            f"| {row.deployments:,} | {row.detail} | {row.series:,} | {(row.series - off) / row.deployments:.1f} "
            f"| {row.bytes / 1e6:.2f} MB | {row.gzip_bytes / 1e6:.2f} MB "
            f"| {row.median_seconds * 1000:.0f} ms | {row.worst_seconds * 1000:.0f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, nargs="+", default=[1_000, 10_000], help="deployment counts")
    parser.add_argument("--repeat", type=int, default=5, help="renders timed per scrape")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = [measure(count, detail, args.repeat) for count in args.deployments for detail in DEPLOYMENT_DETAILS]
    print(f"/metrics scrape benchmark: {', '.join(f'{n:,}' for n in args.deployments)} deployments, "
          f"{len(POLICIES)} policies, {args.repeat} renders each")
    print(f"python {platform.python_version()} on {platform.machine()}, pinned to one CPU "
          f"({os.cpu_count()} on the machine)")
    print(table(rows))
    goal = next((r for r in rows if (r.detail, r.deployments) == (GOAL["detail"], GOAL["deployments"])), None)
    if goal is not None:
        met = goal.bytes < GOAL["bytes"] and goal.median_seconds < GOAL["seconds"]
        print(f"goal for compact at 10,000 (under 8 MB and 0.3 s): {'met' if met else 'NOT met'}")
    print("reproduce: .venv/bin/python bench/metrics_scrape.py "
          + " ".join(["--deployments", *map(str, args.deployments), "--repeat", str(args.repeat)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
