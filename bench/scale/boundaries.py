"""Run "boundaries": the daemon at its default intervals with health rules on some families.

1. **Steady state**: after the startup cycle, the simulator's request log is cleared and every
   platform request of the next ``steady_seconds`` (a multiple of the idle health interval, so
   that each idle deployment is polled exactly once in it) is counted, then extrapolated to an hour.
2. **Batch**: the policy file is rewritten (and the daemon told to reload it with SIGHUP) so that one window
   opens ``batch_lead_seconds`` later (moved to a whole second at least 5 s from any health
   or reconcile job, so that the figure is the cycle's own) for 1,000 running deployments
   and stops them: one boundary, 1,000 calls.
3. **Edges**: the same file gives 200 other running deployments one window each, opening at
   distinct whole seconds spread over ``edge_spread_seconds``, while the reconcile and health
   jobs go on as usual.

Arrival times are the simulator's request log timestamps, which it takes after holding a
request for the injected latency: the arrival is that timestamp minus the latency.
"""

from __future__ import annotations

import math
import os
import random
import signal
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from scale.endpoints import Arrival
from scale.policies import stop_at, watch_families, write_policies
from scale.processes import read_log
from scale.runs import BenchContext, DaemonRun, daemon_run, daemon_settings, public_settings


def family(name: str) -> str:
    """``llama`` for ``llama-00042``."""
    return name.rsplit("-", 1)[0]


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0-1) percentile, linearly interpolated between the closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure_boundaries(context: BenchContext) -> dict:
    """Run the daemon at its default intervals; return the steady-state, batch and edge figures."""
    config = context.config
    deployments = context.control.deployments()
    statuses = Counter(item["status"] for item in deployments)
    watched = set(config.watched_families)
    candidates = sorted(
        (
            item
            for item in deployments
            if item["status"] == "DEPLOYED" and family(item["deployment_name"]) not in watched
        ),
        key=lambda item: item["deployment_name"],
    )
    needed = config.batch_deployments + config.edge_boundaries
    if len(candidates) < needed:
        raise RuntimeError(f"only {len(candidates)} running deployments outside the watched families, {needed} needed")
    rng = random.Random(config.seed)
    chosen = rng.sample(candidates, needed)
    batch_ids = [item["deployment_id"] for item in chosen[: config.batch_deployments]]
    edge_ids = [item["deployment_id"] for item in chosen[config.batch_deployments :]]
    running = [item for item in deployments if item["status"] == "DEPLOYED"]
    running_watched = sum(1 for item in running if family(item["deployment_name"]) in watched)

    policy_path = context.workdir / "boundaries-policies.yaml"
    base = watch_families(datetime.now(UTC), config.watched_families)
    write_policies(policy_path, base)
    settings = daemon_settings(
        context, "boundaries", policy_path,
        reconcile=config.reconcile_interval, health=config.health_interval, idle=config.health_idle_interval,
    )
    context.control.clear_requests()
    latency = config.latency_ms / 1000
    with daemon_run(context, "boundaries", settings) as run:
        steady, jobs_started = _steady_state(context, run, running_watched, len(running) - running_watched)
        batch_at = _clear_of_jobs(
            math.ceil(time.time() + config.batch_lead_seconds), jobs_started, config.health_interval
        )
        first_edge = batch_at + timedelta(seconds=config.edge_gap_seconds)
        offsets = _edge_offsets(rng, config.edge_boundaries, config.edge_spread_seconds)
        edges = {
            deployment_id: first_edge + timedelta(seconds=offset) for deployment_id, offset in zip(edge_ids, offsets)
        }
        policies = [*base, stop_at("bench-batch", batch_ids, batch_at)]
        policies += [
            stop_at(f"bench-edge-{index:03d}", [deployment_id], at)
            for index, (deployment_id, at) in enumerate(edges.items())
        ]
        written = time.time()
        write_policies(policy_path, policies)
        run.daemon.process.send_signal(signal.SIGHUP)  # reload now rather than at the next 5-second check
        reloaded = _wait_for_reload(run, written, deadline=batch_at.timestamp())
        expected = set(batch_ids) | set(edge_ids)
        last_edge = max(edges.values()).timestamp()
        stops = _wait_for_stops(context, expected, until=last_edge + config.grace_seconds)
        peak_mib = run.peak_rss_mib()
        load_during = _load()
    arrivals = {arrival.deployment_id: arrival for arrival in stops}
    batch = _batch_figures(batch_ids, arrivals, batch_at.timestamp(), latency, config.concurrency)
    edge = _edge_figures(edges, arrivals, latency)
    return {
        "settings": public_settings(settings),
        "exit_status": run.exit_status,
        "peak_rss_mib": round(peak_mib, 1),
        "simulator_statuses": dict(sorted(statuses.items())),
        "policies_reloaded_before_batch": reloaded,
        "steady_state": steady,
        "batch": batch,
        "edges": edge,
        "load_average_at_end": load_during,
    }


def _clear_of_jobs(second: int, jobs_started: float, interval: float, margin: float = 5.0) -> datetime:
    """The first whole second from ``second`` on at least ``margin`` seconds from every job instant
    (``jobs_started`` plus a multiple of ``interval``: the reconcile interval is a multiple of it)."""
    if interval <= 2 * margin:
        return datetime.fromtimestamp(second, UTC)
    while True:
        offset = (second - jobs_started) % interval
        if margin <= offset <= interval - margin:
            return datetime.fromtimestamp(second, UTC)
        second += 1


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _edge_offsets(rng: random.Random, count: int, spread: int) -> list[int]:
    """``count`` whole-second offsets in ``[0, spread)``: distinct while they fit, then repeated."""
    if count <= spread:
        return sorted(rng.sample(range(spread), count))
    return sorted(rng.randrange(spread) for _ in range(count))


def _steady_state(
    context: BenchContext, run: DaemonRun, running_watched: int, running_other: int
) -> tuple[dict, float]:
    """Wait for the startup cycle, then count every platform request over ``steady_seconds``; return the
    figures and when the daemon's jobs started (its first list request)."""
    config = context.config
    run.wait_for(
        lambda values: values.get("scaler_reconcile_duration_seconds_count", 0) >= 1
        and values.get("scaler_health_poll_duration_seconds_count", 0) >= 1,
        timeout=600,
    )
    startup_done = time.time()
    _, lists = context.control.requests("list_deployments")
    started = min(arrival.at for arrival in lists) - config.latency_ms / 1000
    # Begin just before a health job, so the window holds whole health intervals.
    begin = started + config.health_interval * math.ceil((startup_done + 1 - started) / config.health_interval) - 0.5
    time.sleep(max(0.0, begin - time.time()))
    context.control.clear_requests()
    cleared = time.time()
    time.sleep(max(0.0, cleared + config.steady_seconds - time.time()))
    total, arrivals = context.control.requests()
    counted = time.time() - cleared
    by_endpoint = Counter(arrival.endpoint for arrival in arrivals)
    per_hour = total * 3600 / counted
    hour = 3600.0
    lists_per_hour = hour / config.reconcile_interval
    health_interval_polls = hour / config.health_interval
    idle_polls = hour / config.health_idle_interval if config.health_idle_interval > 0 else 0.0
    expected = lists_per_hour + running_watched * health_interval_polls + running_other * idle_polls
    naive = lists_per_hour + config.deployments * health_interval_polls
    naive_reconcile = (config.deployments + 1) * (hour / config.reconcile_interval)
    return {
        "window_seconds": round(counted, 2),
        "window_start": datetime.fromtimestamp(cleared, UTC).isoformat(),
        "requests": total,
        "requests_by_endpoint": dict(sorted(by_endpoint.items())),
        "requests_per_hour": round(per_hour),
        "expected_per_hour": round(expected),
        "running_watched": running_watched,
        "running_unwatched": running_other,
        "naive_per_hour": round(naive),
        "naive_per_reconcile_cycle_per_hour": round(naive_reconcile),
        "share_of_naive": round(per_hour / naive, 4),
    }, started


def _wait_for_reload(run: DaemonRun, written: float, *, deadline: float) -> bool:
    """Wait until the daemon logs that it reloaded the policies; return whether it did before ``deadline``."""
    while time.time() < deadline:
        for event in read_log(run.daemon.log_path):
            if event.get("event") == "policies_reloaded":
                stamp = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()
                if stamp >= written - 1:
                    return True
        time.sleep(0.2)
    return False


def _wait_for_stops(context: BenchContext, expected: set[str], *, until: float) -> list[Arrival]:
    """Wait until every expected stop arrived or ``until`` passed; return the stop requests logged."""
    while True:
        _, calls = context.control.requests("startstop")
        stops = [call for call in calls if isinstance(call.body, dict) and call.body.get("action") == "stop"]
        arrived = {call.deployment_id for call in stops}
        if expected <= arrived or time.time() >= until:
            return stops
        time.sleep(0.5)


def _batch_figures(ids: list[str], arrivals: dict[str, Arrival], at: float, latency: float, concurrency: int) -> dict:
    delays = [arrivals[i].at - latency - at for i in ids if i in arrivals]
    figures: dict = {
        "deployments": len(ids),
        "calls_arrived": len(delays),
        "calls_ok": sum(1 for i in ids if i in arrivals and arrivals[i].status == 200),
        "boundary": datetime.fromtimestamp(at, UTC).isoformat(),
        "ideal_seconds": round(len(ids) * latency / concurrency, 3),
    }
    if delays:
        figures.update(
            first_call_seconds=round(min(delays), 3),
            median_call_seconds=round(statistics.median(delays), 3),
            last_call_seconds=round(max(delays), 3),
        )
    return figures


def _edge_figures(edges: dict[str, datetime], arrivals: dict[str, Arrival], latency: float) -> dict:
    delays = [arrivals[i].at - latency - at.timestamp() for i, at in edges.items() if i in arrivals]
    figures: dict = {
        "boundaries": len(edges),
        "calls_arrived": len(delays),
        "calls_ok": sum(1 for i in edges if i in arrivals and arrivals[i].status == 200),
        "first_boundary": min(edges.values()).isoformat(),
        "last_boundary": max(edges.values()).isoformat(),
    }
    if delays:
        figures.update(
            p50_seconds=round(percentile(delays, 0.50), 4),
            p99_seconds=round(percentile(delays, 0.99), 4),
            max_seconds=round(max(delays), 4),
            min_seconds=round(min(delays), 4),
            early_calls=sum(1 for delay in delays if delay < 0),
        )
    figures["delays"] = [
        {"boundary": at.isoformat(), "seconds": round(arrivals[i].at - latency - at.timestamp(), 4)}
        for i, at in sorted(edges.items(), key=lambda item: item[1])
        if i in arrivals
    ]
    return figures
