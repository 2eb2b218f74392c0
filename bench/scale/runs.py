"""What every daemon run of the benchmark shares: its configuration, the daemon's settings, and one
daemon process with its metrics scraper and CPU sampler, stopped cleanly whatever happens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scale.endpoints import DaemonMetrics, SimulatorControl
from scale.processes import CpuSampler, DaemonProcess, Simulator, start_daemon, stop


@dataclass(frozen=True)
class BenchConfig:
    """Every knob of a benchmark run (the defaults are the scenario docs/performance.md describes)."""

    deployments: int = 10_000
    latency_ms: float = 25.0
    concurrency: int = 50
    max_requests_per_second: float = 10_000.0
    """Far above the 2,000 requests/s that 50 requests in flight at 25 ms allow: never the limit."""
    max_actions_per_cycle: int = 2_000
    """Above the 1,000 calls of the batch boundary, so that no call is deferred to a later cycle."""
    # Run "cycles": intervals whose jobs never start together in the first 360 s (lcm of 40 and 90).
    cycle_reconcile_interval: float = 90.0
    cycle_health_interval: float = 40.0
    health_cycles: int = 4
    reconcile_cycles: int = 2
    # Run "boundaries": the daemon's default intervals.
    reconcile_interval: float = 60.0
    health_interval: float = 30.0
    health_idle_interval: float = 300.0
    steady_seconds: float = 300.0
    watched_families: tuple[str, ...] = ("llama", "mistral")
    batch_deployments: int = 1_000
    batch_lead_seconds: float = 30.0
    edge_boundaries: int = 200
    edge_gap_seconds: float = 30.0
    edge_spread_seconds: int = 240
    grace_seconds: float = 15.0
    seed: int = 6


@dataclass
class BenchContext:
    """The running simulator and where a run keeps its files."""

    config: BenchConfig
    workdir: Path
    simulator: Simulator
    control: SimulatorControl
    daemon_core: int | None
    notes: list[str] = field(default_factory=list)


def daemon_settings(
    context: BenchContext, name: str, policy_path: Path, *, reconcile: float, health: float, idle: float
) -> dict[str, str]:
    """The ``SCALER_*`` variables of one daemon run."""
    config = context.config
    return {
        "SCALER_API_URL": context.simulator.url,
        "SCALER_API_TOKEN": context.simulator.token,
        "SCALER_ORG_ID": context.simulator.org_id,
        "SCALER_POLICY_PATH": str(policy_path),
        "SCALER_STATE_URL": f"sqlite:///{context.workdir / f'{name}-state.db'}",
        "SCALER_MAX_CONCURRENCY": str(config.concurrency),
        "SCALER_MAX_REQUESTS_PER_SECOND": f"{config.max_requests_per_second:g}",
        "SCALER_MAX_ACTIONS_PER_CYCLE": str(config.max_actions_per_cycle),
        "SCALER_RECONCILE_INTERVAL_SECONDS": f"{reconcile:g}",
        "SCALER_HEALTH_INTERVAL_SECONDS": f"{health:g}",
        "SCALER_HEALTH_IDLE_INTERVAL_SECONDS": f"{idle:g}",
        "SCALER_HTTP_HOST": "127.0.0.1",
        "SCALER_HTTP_PORT": "0",
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": "info",
    }


@dataclass
class DaemonRun:
    """One daemon process under observation."""

    daemon: DaemonProcess
    metrics: DaemonMetrics
    sampler: CpuSampler
    settings: dict[str, str]
    exit_status: int | None = None

    def peak_rss_mib(self) -> float:
        """The daemon's peak resident set so far, in MiB."""
        self.sampler.note_memory()
        return self.sampler.peak_kib["daemon"] / 1024

    def wait_for(self, predicate, *, timeout: float, every: float = 1.0) -> dict[str, float]:
        """Scrape every ``every`` seconds until ``predicate(values)``; return the last values.

        Raises ``TimeoutError`` after ``timeout`` seconds, ``RuntimeError`` when the daemon exits.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.daemon.process.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.daemon.process.returncode}")
            values = self.metrics.scrape()
            if predicate(values):
                return values
            if time.monotonic() > deadline:
                raise TimeoutError(f"the daemon did not get there within {timeout:g} s: {values}")
            time.sleep(every)


@contextmanager
def daemon_run(context: BenchContext, name: str, settings: dict[str, str]) -> Iterator[DaemonRun]:
    """Start a daemon with ``settings``, sample its CPU and the simulator's, stop it on exit."""
    daemon = start_daemon(
        settings, core=context.daemon_core, log_path=context.workdir / f"{name}-daemon.log", cwd=context.workdir
    )
    sampler = CpuSampler({"daemon": daemon.process.pid, "simulator": context.simulator.process.pid}).start()
    run = DaemonRun(daemon, DaemonMetrics(daemon.url), sampler, settings)
    try:
        yield run
    finally:
        sampler.note_memory()
        run.exit_status = stop(daemon.process)
        sampler.close()
        run.metrics.close()


def public_settings(settings: dict[str, str]) -> dict[str, Any]:
    """The settings worth reporting (no URLs, paths or token)."""
    hidden = ("SCALER_API_URL", "SCALER_API_TOKEN", "SCALER_ORG_ID", "SCALER_POLICY_PATH", "SCALER_STATE_URL")
    return {key: value for key, value in settings.items() if key not in hidden}
