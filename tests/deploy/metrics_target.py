"""A stand-in scrape target: a scaler in every state an alert rule exists for.

The dashboard and the rules are proven against the real daemon (``scaler run`` against
``scaler sim``, see ``tests/deploy/conftest.py``). The real daemon is healthy there, and
within the seconds a test may take it cannot produce the series these alerts need:

- ``SimplismartScalerApiAuthFailing``: the token refused (``scaler_api_auth_ok`` 0);
- ``SimplismartScalerWalletBlocked``: the wallet blocked (``scaler_wallet_blocked`` 1);
- ``SimplismartScalerReconcileStalled``: the last reconcile an hour ago;
- ``SimplismartScalerActionsFailing``: starts failing again and again for lack of quota;
- ``SimplismartScalerPolicyReloadFailing`` and ``SimplismartScalerPolicyConflicts``: an
  invalid policy change, deployments matched by two policies of equal priority;
- ``SimplismartDeploymentUnhealthy``, ``SimplismartDeploymentDegraded`` and
  ``SimplismartDeploymentStartNotHealthy``: deployments in those states, each as the
  daemon reports it (a DEPLOYING deployment is not polled, so its health stays what was
  last observed: ``SCALED_DOWN`` after a start, nothing for one first seen starting);
- ``SimplismartScalerSchedulerJobsFailing``: scheduler jobs failing.

It declares nothing of its own: every series comes from ``scaler.metrics.Metrics``
and is set through the real metric objects (the per-deployment series through
``DeploymentSeries``, as the daemon sets them), and a test compares its series with a
scrape of the real daemon (same names, same label names, label values the daemon uses),
so it cannot drift from what the daemon exports.

Run: ``python -m tests.deploy.metrics_target --port 9464``.
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
from scaler.metrics import DeploymentSeries, Metrics

TICK_SECONDS = 0.25


@dataclass(frozen=True)
class FakeDeployment:
    """One deployment as the daemon would report it (``health`` None: never observed)."""

    name: str
    deployment_id: str
    policy: str
    accelerator: str
    gpus: int
    status: str
    health: str | None
    pods_ready: int
    pods_not_ready: int
    desired_running: int
    desired_min: int | None
    desired_max: int | None
    next_transition_in_seconds: float | None
    suspended: bool = False


TROUBLED = (
    FakeDeployment("broken-llm", "7e1d2c3b-0000-4000-8000-00000000000a", "office-hours", "nvidia-a100", 1,
                   "DEPLOYED", "Unhealthy", 0, 2, 1, 2, 4, 3600),
    FakeDeployment("slow-embed", "7e1d2c3b-0000-4000-8000-00000000000b", "office-hours", "nvidia-a10g", 1,
                   "DEPLOYED", "Degraded", 1, 1, 1, 1, 2, 3600),
    # Started from SCALED_DOWN, still DEPLOYING: not polled, its health is the last observed.
    FakeDeployment("stuck-start", "7e1d2c3b-0000-4000-8000-00000000000c", "office-hours", "nvidia-l4", 1,
                   "DEPLOYING", "SCALED_DOWN", 0, 0, 1, 1, 2, 3600),
    # DEPLOYED, polled, still Progressing.
    FakeDeployment("warming-up", "7e1d2c3b-0000-4000-8000-00000000000f", "office-hours", "nvidia-l4", 1,
                   "DEPLOYED", "Progressing", 0, 1, 1, 1, 2, 3600),
    # First seen DEPLOYING: no health observed at all.
    FakeDeployment("first-seen-starting", "7e1d2c3b-0000-4000-8000-000000000010", "office-hours", "nvidia-l4", 1,
                   "DEPLOYING", None, 0, 0, 1, 1, 2, 3600),
    # Neither start alert may name these: suspended by a person; scaled to zero on purpose.
    FakeDeployment("on-hold", "7e1d2c3b-0000-4000-8000-00000000000d", "office-hours", "nvidia-l4", 1,
                   "DEPLOYING", "SCALED_DOWN", 0, 0, 1, 1, 2, 3600, suspended=True),
    FakeDeployment("scaled-to-zero", "7e1d2c3b-0000-4000-8000-00000000000e", "office-hours", "nvidia-l4", 1,
                   "SCALED_DOWN", "SCALED_DOWN", 0, 0, 1, 0, 1, 3600),
    # Running, but with idle health polling off its health was last observed before it started.
    FakeDeployment("running-unpolled", "7e1d2c3b-0000-4000-8000-000000000011", "always-on", "nvidia-l4", 1,
                   "DEPLOYED", "SCALED_DOWN", 0, 0, 1, None, None, 0),
)

#: The deployments of the troubled scenario each alert must name (the others must stay silent).
TROUBLED_IDS_BY_ALERT = {
    "SimplismartDeploymentUnhealthy": {"7e1d2c3b-0000-4000-8000-00000000000a"},
    "SimplismartDeploymentDegraded": {"7e1d2c3b-0000-4000-8000-00000000000b"},
    "SimplismartDeploymentStartNotHealthy": {
        "7e1d2c3b-0000-4000-8000-00000000000c",
        "7e1d2c3b-0000-4000-8000-00000000000f",
        "7e1d2c3b-0000-4000-8000-000000000010",
    },
}


def publish_inventory(metrics: Metrics, deployments: tuple[FakeDeployment, ...], now: float) -> None:
    """Set every per-deployment gauge, as the daemon does after an inventory and health poll."""
    running_gpus: dict[str, int] = {}
    for d in deployments:
        next_at = now + d.next_transition_in_seconds if d.next_transition_in_seconds else 0
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
        held = (d.desired_min if d.desired_min is not None else 1) * d.gpus if d.status == "DEPLOYED" else 0
        running_gpus[d.accelerator] = running_gpus.get(d.accelerator, 0) + held
    for accelerator, gpus in running_gpus.items():
        metrics.running_gpus.labels(accelerator=accelerator).set(gpus)


class TroubledScaler:
    """The stand-in's values, advanced one tick at a time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def start(self) -> None:
        """Set the values of a scaler in trouble: token refused, wallet blocked, loop stalled, bad policies."""
        m = self.metrics
        now = time.time()
        m.build_info.info({"version": __version__})
        m.leader.set(1)
        policies = sorted({d.policy for d in TROUBLED})
        for policy in policies:
            m.initialise_policy(policy)
        m.policies_loaded.set(len(policies))
        m.policy_reloads.labels(result="success").inc()
        m.policy_reloads.labels(result="error").inc()
        m.policy_last_reload_successful.set(0)
        m.policy_conflicts.set(2)
        m.api_auth_ok.set(0)
        m.wallet_blocked.set(1)
        publish_inventory(m, TROUBLED, now)
        # A stalled loop: the last reconcile and health poll finished an hour ago and never again.
        m.last_reconcile.set(now - 3600)
        m.last_health_poll.set(now - 3600)

    def tick(self) -> None:
        """Advance by one tick: what keeps failing meanwhile."""
        m = self.metrics
        m.action_errors.labels(action="start", reason="quota").inc()
        m.actions.labels(action="start", result="error", policy="office-hours").inc()
        m.scheduler_events.labels(event="error").inc()
        m.api_request_duration.labels(endpoint="startstop", method="POST", status_code="400").observe(0.3)
        m.api_request_errors.labels(endpoint="startstop", reason="quota").inc()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Leave the test output free of one line per scrape."""


def serve(port: int) -> None:
    """Serve ``/metrics`` on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    metrics = Metrics()
    scaler = TroubledScaler(metrics)
    scaler.start()
    server = make_server("127.0.0.1", port, make_wsgi_app(metrics.registry), handler_class=_QuietHandler)
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    while not stop.wait(TICK_SECONDS):
        scaler.tick()
    server.shutdown()
    server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.port)


if __name__ == "__main__":
    main()
