"""A scrape target that serves the scaler's real metric registry with lifelike values.

Until the daemon exists, the Prometheus tests scrape this process instead of
``scaler demo``. It declares nothing of its own: every series comes from
``scaler.metrics.Metrics`` and is set through the real metric objects, so the names,
labels and types are exactly the daemon's. Two scenarios:

- ``representative``: a healthy scaler at work on a small organization (actions,
  savings, API calls and reconciles keep happening while it runs);
- ``troubled``: a scaler in every state an alert rule exists for (token refused,
  wallet blocked, reconcile stalled, failing actions, an invalid policy set,
  conflicts, deployments Unhealthy, Degraded or stuck after a start).

Run: ``python -m tests.deploy.metrics_target --port 9464 [--scenario troubled]``.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app

from scaler import __version__
from scaler.metrics import API_ENDPOINTS, DeploymentSeries, Metrics

TICK_SECONDS = 0.25


@dataclass(frozen=True)
class FakeDeployment:
    """One deployment as the daemon would report it."""

    name: str
    deployment_id: str
    policy: str
    accelerator: str
    gpus: int
    status: str
    health: str
    pods_ready: int
    pods_not_ready: int
    desired_running: int
    desired_min: int | None
    desired_max: int | None
    next_transition_in_seconds: float | None
    suspended: bool = False
    saving: bool = False
    dollars_per_gpu_hour: float = 2.0


REPRESENTATIVE = (
    FakeDeployment("llama-chat", "0b6f1c1e-4f3e-4a53-9d3b-1f2a3b4c5d01", "office-hours", "nvidia-a100", 1,
                   "DEPLOYED", "Healthy", 2, 0, 1, 2, 4, 3 * 3600, dollars_per_gpu_hour=3.5),
    FakeDeployment("whisper-batch", "0b6f1c1e-4f3e-4a53-9d3b-1f2a3b4c5d02", "night-stop", "nvidia-l4", 1,
                   "SCALED_DOWN", "SCALED_DOWN", 0, 0, 0, None, None, 8 * 3600, saving=True, dollars_per_gpu_hour=0.8),
    FakeDeployment("embed-svc", "0b6f1c1e-4f3e-4a53-9d3b-1f2a3b4c5d03", "office-hours", "nvidia-a10g", 1,
                   "DEPLOYED", "Healthy", 1, 0, 1, 1, 2, 3 * 3600, dollars_per_gpu_hour=1.2),
    FakeDeployment("summarizer-weekend", "0b6f1c1e-4f3e-4a53-9d3b-1f2a3b4c5d04", "weekend-stop", "nvidia-h100", 2,
                   "SCALED_DOWN", "SCALED_DOWN", 0, 0, 0, None, None, 40 * 3600, saving=True, dollars_per_gpu_hour=4.0),
    FakeDeployment("experiment-7", "0b6f1c1e-4f3e-4a53-9d3b-1f2a3b4c5d05", "", "nvidia-tesla-t4", 1,
                   "DEPLOYED", "Healthy", 1, 0, -1, None, None, None),
)

TROUBLED = (
    FakeDeployment("broken-llm", "7e1d2c3b-0000-4000-8000-00000000000a", "office-hours", "nvidia-a100", 1,
                   "DEPLOYED", "Unhealthy", 0, 2, 1, 2, 4, 3600),
    FakeDeployment("slow-embed", "7e1d2c3b-0000-4000-8000-00000000000b", "office-hours", "nvidia-a10g", 1,
                   "DEPLOYED", "Degraded", 1, 1, 1, 1, 2, 3600),
    FakeDeployment("stuck-start", "7e1d2c3b-0000-4000-8000-00000000000c", "office-hours", "nvidia-l4", 1,
                   "DEPLOYING", "Progressing", 0, 1, 1, 1, 2, 3600),
    FakeDeployment("on-hold", "7e1d2c3b-0000-4000-8000-00000000000d", "office-hours", "nvidia-l4", 1,
                   "DEPLOYING", "Progressing", 0, 1, 1, 1, 2, 3600, suspended=True),
    FakeDeployment("scaled-to-zero", "7e1d2c3b-0000-4000-8000-00000000000e", "office-hours", "nvidia-l4", 1,
                   "SCALED_DOWN", "SCALED_DOWN", 0, 0, 1, 0, 1, 3600),
)

#: The deployments of the troubled scenario each alert must name (the others must stay silent).
TROUBLED_IDS_BY_ALERT = {
    "SimplismartDeploymentUnhealthy": {"7e1d2c3b-0000-4000-8000-00000000000a"},
    "SimplismartDeploymentDegraded": {"7e1d2c3b-0000-4000-8000-00000000000b"},
    "SimplismartDeploymentStartNotHealthy": {"7e1d2c3b-0000-4000-8000-00000000000c"},
}

SCENARIOS = {"representative": REPRESENTATIVE, "troubled": TROUBLED}


def publish_inventory(metrics: Metrics, deployments: tuple[FakeDeployment, ...], now: float) -> None:
    """Set every per-deployment gauge, as the daemon does after an inventory and health poll."""
    running_gpus: dict[str, int] = {}
    for d in deployments:
        next_at = now + d.next_transition_in_seconds if d.next_transition_in_seconds is not None else 0
        metrics.deployments.track(
            DeploymentSeries(
                d.name,
                d.deployment_id,
                d.policy,
                d.accelerator,
                status=d.status,
                health=d.health,
                pods_ready=d.pods_ready,
                pods_not_ready=d.pods_not_ready,
                desired_min=d.desired_min,
                desired_max=d.desired_max,
                desired_running=d.desired_running,
                next_transition=next_at,
                suspended=1 if d.suspended else 0,
            )
        )
        if d.status == "DEPLOYED":
            floor = d.desired_min if d.desired_min is not None else 1
            running_gpus[d.accelerator] = running_gpus.get(d.accelerator, 0) + floor * d.gpus
        else:
            running_gpus.setdefault(d.accelerator, 0)
    for accelerator, gpus in running_gpus.items():
        metrics.running_gpus.labels(accelerator=accelerator).set(gpus)


class Scenario:
    """Values that change while the target runs, advanced one tick at a time."""

    def __init__(self, metrics: Metrics, name: str) -> None:
        self.metrics = metrics
        self.name = name
        self.deployments = SCENARIOS[name]
        self.ticks = 0
        self.started = time.time()

    def start(self) -> None:
        """Set the values a freshly started daemon has after its first cycle."""
        m = self.metrics
        now = time.time()
        m.build_info.info({"version": __version__})
        m.leader.set(1)
        for policy in sorted({d.policy for d in self.deployments if d.policy}):
            m.initialise_policy(policy)
        m.policies_loaded.set(len({d.policy for d in self.deployments if d.policy}))
        m.policy_reloads.labels(result="success").inc()
        troubled = self.name == "troubled"
        if troubled:
            m.policy_reloads.labels(result="error").inc()
        m.policy_last_reload_successful.set(0 if troubled else 1)
        m.policy_conflicts.set(2 if troubled else 0)
        m.api_auth_ok.set(0 if troubled else 1)
        m.wallet_blocked.set(1 if troubled else 0)
        publish_inventory(m, self.deployments, now)
        # A stalled loop: the last reconcile finished an hour ago and never again.
        m.last_reconcile.set(now - 3600 if troubled else now)
        m.last_health_poll.set(now - 3600 if troubled else now)

    def tick(self) -> None:
        """Advance by one tick: what the daemon's jobs would have recorded meanwhile."""
        m = self.metrics
        self.ticks += 1
        now = time.time()
        if self.name == "troubled":
            m.action_errors.labels(action="start", reason="quota").inc()
            m.actions.labels(action="start", result="error", policy="office-hours").inc()
            m.scheduler_events.labels(event="error").inc()
            m.api_request_duration.labels(endpoint="startstop", method="POST", status_code="400").observe(0.3)
            m.api_request_errors.labels(endpoint="startstop", reason="quota").inc()
            return
        m.last_reconcile.set(now)
        m.last_health_poll.set(now)
        m.reconcile_duration.observe(0.05 + 0.01 * (self.ticks % 7))
        m.health_poll_duration.observe(0.2 + 0.02 * (self.ticks % 5))
        m.scheduler_events.labels(event="executed").inc(2)
        for endpoint, (method, _path) in API_ENDPOINTS.items():
            if endpoint == "delete":
                continue
            latency = 0.04 + 0.01 * (self.ticks % 9)
            m.api_request_duration.labels(endpoint=endpoint, method=method, status_code="200").observe(latency)
        if self.ticks % 8 == 0:
            m.api_request_duration.labels(endpoint="get_health", method="GET", status_code="503").observe(1.5)
            m.api_retries.labels(endpoint="get_health").inc()
        m.actions.labels(action="update_replicas", result="success", policy="office-hours").inc()
        if self.ticks % 2 == 0:
            m.actions.labels(action="stop", result="success", policy="night-stop").inc()
        if self.ticks % 5 == 0:
            m.actions.labels(action="start", result="deferred", policy="office-hours").inc()
        for d in self.deployments:
            if d.saving:
                gpu_seconds = d.gpus * TICK_SECONDS * 60  # a minute of savings per tick keeps rates visible
                series = m.deployments.get(d.deployment_id)
                assert series is not None
                series.gpu_seconds_saved += gpu_seconds
                series.cost_saved += gpu_seconds / 3600 * d.dollars_per_gpu_hour


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Leave the test output free of one line per scrape."""


def serve(port: int, scenario_name: str) -> None:
    """Serve ``/metrics`` on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    metrics = Metrics()
    scenario = Scenario(metrics, scenario_name)
    scenario.start()
    server = make_server("127.0.0.1", port, make_wsgi_app(metrics.registry), handler_class=_QuietHandler)
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    while not stop.wait(TICK_SECONDS):
        scenario.tick()
    server.shutdown()
    server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="representative")
    args = parser.parse_args()
    serve(args.port, args.scenario)


if __name__ == "__main__":
    main()
