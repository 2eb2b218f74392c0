"""Run "cycles": every running deployment under health rules; the wall time and CPU of health polls
and reconcile cycles, and the daemon's peak RSS.

The intervals (90 s and 40 s by default) keep the jobs apart, so each cycle's CPU is its own. A
cycle is known from the daemon's metrics: the duration histograms (the wall time, measured by the
daemon from the start to the end of the cycle) and the timestamps of the last poll and reconcile
(its end). A reconcile job starts with its list request, read from the simulator's request log.
CPU seconds are the daemon's ``/proc`` counters sampled every 20 ms, over exactly those windows.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from scale.policies import watch_everything, write_policies
from scale.runs import BenchContext, DaemonRun, daemon_run, daemon_settings, public_settings


@dataclass
class Cycle:
    """One health poll or reconcile cycle seen through the daemon's metrics."""

    kind: str
    start: float
    end: float
    requests: int
    """Health requests sent by a poll; deployments listed by a reconcile job."""
    startup: bool
    daemon_cpu_seconds: float = 0.0
    simulator_cpu_share: float = 0.0
    overlaps: bool = False

    @property
    def seconds(self) -> float:
        return self.end - self.start


class CycleWatcher:
    """Turns successive scrapes into :class:`Cycle` records."""

    def __init__(self) -> None:
        self.health: list[Cycle] = []
        self.reconcile: list[tuple[float, float]] = []
        """(end, reconcile() seconds) of every reconcile; matched to list requests afterwards."""
        self._last: dict[str, float] = {}
        self._health_requests_at_last_poll = 0.0

    def observe(self, values: dict[str, float]) -> None:
        last = self._last
        polls = values.get("scaler_health_poll_duration_seconds_count", 0.0)
        if polls > last.get("polls", 0.0):
            added = polls - last.get("polls", 0.0)
            seconds = values["scaler_health_poll_duration_seconds_sum"] - last.get("poll_sum", 0.0)
            end = values["scaler_last_health_poll_timestamp_seconds"]
            fetched = values.get("requests:get_health", 0.0)
            self.health.append(
                Cycle(
                    kind="health",
                    start=end - seconds,
                    end=end,
                    requests=int(fetched - self._health_requests_at_last_poll),
                    startup=not self.health,
                    overlaps=added > 1,
                )
            )
            self._health_requests_at_last_poll = fetched
            last["polls"], last["poll_sum"] = polls, values["scaler_health_poll_duration_seconds_sum"]
        cycles = values.get("scaler_reconcile_duration_seconds_count", 0.0)
        if cycles > last.get("cycles", 0.0):
            seconds = values["scaler_reconcile_duration_seconds_sum"] - last.get("cycle_sum", 0.0)
            self.reconcile.append((values["scaler_last_reconcile_timestamp_seconds"], seconds))
            last["cycles"], last["cycle_sum"] = cycles, values["scaler_reconcile_duration_seconds_sum"]

    def reconcile_jobs(self, list_arrivals: list[float], latency: float, listed: int) -> list[Cycle]:
        """The reconcile jobs: from each list request to the end of the reconcile that followed it."""
        jobs = []
        for index, arrival in enumerate(sorted(list_arrivals)):
            sent = arrival - latency
            ends = [end for end, _ in self.reconcile if end >= sent]
            if not ends:
                continue
            jobs.append(Cycle(kind="reconcile", start=sent, end=min(ends), requests=listed, startup=index == 0))
        return jobs


def _overlap(cycle: Cycle, others: list[Cycle]) -> bool:
    return any(other is not cycle and other.start < cycle.end and cycle.start < other.end for other in others)


def measure_cycles(context: BenchContext) -> dict:
    """Run the daemon with every running deployment watched; return the cycles' figures."""
    config = context.config
    policy_path = context.workdir / "cycles-policies.yaml"
    write_policies(policy_path, watch_everything(datetime.now(UTC)))
    settings = daemon_settings(
        context, "cycles", policy_path,
        reconcile=config.cycle_reconcile_interval, health=config.cycle_health_interval,
        idle=config.health_idle_interval,
    )
    context.control.clear_requests()
    watcher = CycleWatcher()
    latency = config.latency_ms / 1000
    with daemon_run(context, "cycles", settings) as run:
        _follow(run, watcher, config)
        _, lists = context.control.requests("list_deployments")
        peak_mib = run.peak_rss_mib()
        sampler = run.sampler
        health = watcher.health
        jobs = watcher.reconcile_jobs([arrival.at for arrival in lists], latency, config.deployments)
    every = health + jobs
    for cycle in every:
        cycle.overlaps = cycle.overlaps or _overlap(cycle, every)
        cycle.daemon_cpu_seconds = sampler.cpu_between("daemon", cycle.start, cycle.end)
        cycle.simulator_cpu_share = sampler.cpu_between("simulator", cycle.start, cycle.end) / max(cycle.seconds, 1e-9)
    return {
        "settings": public_settings(settings),
        "exit_status": run.exit_status,
        "peak_rss_mib": round(peak_mib, 1),
        "health_cycles": [_view(cycle) for cycle in health],
        "reconcile_cycles": [_view(cycle) for cycle in jobs],
        "health": _summary(health, latency, config.concurrency),
        "reconcile": _summary(jobs, latency, config.concurrency),
    }


def _follow(run: DaemonRun, watcher: CycleWatcher, config) -> None:
    """Scrape once a second until the startup cycle and the configured cycles were seen (or time ran out)."""
    wanted_health = config.health_cycles + 1
    wanted_reconcile = config.reconcile_cycles + 1
    budget = config.cycle_reconcile_interval * (config.reconcile_cycles + 1) + 120
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        watcher.observe(run.metrics.scrape())
        if len(watcher.health) >= wanted_health and len(watcher.reconcile) >= wanted_reconcile:
            return
        if run.daemon.process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {run.daemon.process.returncode}")
        time.sleep(min(1.0, config.cycle_health_interval / 4))


def _view(cycle: Cycle) -> dict:
    view = asdict(cycle)
    view["seconds"] = round(cycle.seconds, 3)
    view["daemon_cpu_seconds"] = round(cycle.daemon_cpu_seconds, 3)
    view["simulator_cpu_share"] = round(cycle.simulator_cpu_share, 3)
    view["start"] = datetime.fromtimestamp(cycle.start, UTC).isoformat()
    view["end"] = datetime.fromtimestamp(cycle.end, UTC).isoformat()
    return view


def _summary(cycles: list[Cycle], latency: float, concurrency: int) -> dict | None:
    """Median figures over the steady cycles that ran alone (all steady ones when none did)."""
    steady = [cycle for cycle in cycles if not cycle.startup]
    alone = [cycle for cycle in steady if not cycle.overlaps]
    chosen = alone or steady
    if not chosen:
        return None
    ideal = [cycle.requests * latency / concurrency for cycle in chosen]
    ratios = [cycle.seconds / value for cycle, value in zip(chosen, ideal) if value > 0]
    per_deployment = [cycle.daemon_cpu_seconds / cycle.requests for cycle in chosen if cycle.requests]
    return {
        "cycles": len(chosen),
        "ran_alone": bool(alone),
        "requests": int(statistics.median(cycle.requests for cycle in chosen)),
        "wall_seconds": round(statistics.median(cycle.seconds for cycle in chosen), 3),
        "wall_seconds_worst": round(max(cycle.seconds for cycle in chosen), 3),
        "ideal_seconds": round(statistics.median(ideal), 3),
        "ratio": round(statistics.median(ratios), 3) if ratios else None,
        "ratio_worst": round(max(ratios), 3) if ratios else None,
        "daemon_cpu_seconds": round(statistics.median(cycle.daemon_cpu_seconds for cycle in chosen), 3),
        "cpu_ms_per_deployment": round(statistics.median(per_deployment) * 1000, 4) if per_deployment else None,
        "cpu_ms_per_deployment_worst": round(max(per_deployment) * 1000, 4) if per_deployment else None,
        "simulator_cpu_share": round(statistics.median(cycle.simulator_cpu_share for cycle in chosen), 3),
        "simulator_cpu_share_worst": round(max(cycle.simulator_cpu_share for cycle in chosen), 3),
    }
