"""A stand-in scrape target: a scaler in every state an alert rule exists for.

The dashboard and the rules are proven against the real daemon (``scaler run`` against
``scaler sim``, see ``tests/deploy/conftest.py``). The real daemon is healthy there, and
within the seconds a test may take it cannot produce the series these alerts need:

- ``SimplismartScalerApiAuthFailing``: the token refused (``scaler_api_auth_ok`` 0);
- ``SimplismartScalerWalletBlocked``: the wallet blocked (``scaler_wallet_blocked`` 1);
- ``SimplismartScalerOrgIdRefused``: SCALER_ORG_ID refused (``scaler_org_id_refused`` 1);
- ``SimplismartScalerReconcileStalled``: the last reconcile an hour ago;
- ``SimplismartScalerActionsFailing``: starts failing again and again for lack of quota;
- ``SimplismartScalerPolicyReloadFailing`` and ``SimplismartScalerPolicyConflicts``: an
  invalid policy change, deployments matched by two policies of equal priority;
- ``SimplismartDeploymentUnhealthy``, ``SimplismartDeploymentDegraded`` and
  ``SimplismartDeploymentStartNotHealthy``: deployments in those states, each as the
  daemon reports it (a DEPLOYING deployment is not polled, so its health stays what was
  last observed: ``SCALED_DOWN`` after a start, nothing for one first seen starting);
- ``SimplismartScalerSchedulerJobsFailing``: scheduler jobs failing.

It also stands in for the replicas of a scaler run with several instances on one
PostgreSQL state (:class:`Replica`), which one daemon against the simulator cannot be:
healthy, reporting the same organization (:data:`HEALTHY`) as the daemon's standbys do,
and each either the leader (``scaler_leader`` 1) or a standby (0). Two leaders under one
scrape job are the split brain ``SimplismartScalerMultipleLeaders`` exists for, two
standbys the lack of a leader ``SimplismartScalerNoLeader`` exists for. A replica also
takes commands (``POST /_control/<command>``) with which a test plays a failover: the
leader steps down, the standby takes over, each counts savings only while it leads,
and a scrape fails on purpose.

It declares nothing of its own: every series comes from ``scaler.metrics.Metrics``
and is set through the real metric objects (the per-deployment series through
``DeploymentSeries``, as the daemon sets them), and a test compares its series with a
scrape of the real daemon (same names, same label names, label values the daemon uses),
so it cannot drift from what the daemon exports. Each stand-in renders the per-deployment
detail it is given (``SCALER_METRICS_DEPLOYMENT_DETAIL``: ``compact`` unless told).

Run: ``python -m tests.deploy.metrics_target --serve troubled:9464 --serve leader@off:9465 --serve standby:9466``
(one process, one ``/metrics`` per port; ``KIND@DETAIL`` picks the detail).
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app

from scaler import __version__
from scaler.metrics import DEFAULT_DEPLOYMENT_DETAIL, DEPLOYMENT_DETAILS, DeploymentSeries, Metrics

TICK_SECONDS = 0.25
#: Where a replica takes its commands: ``POST /_control/<command>``.
CONTROL_PREFIX = "/_control/"


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
    # (A suspension leaves the deployment alone: nothing is desired of it.)
    FakeDeployment("on-hold", "7e1d2c3b-0000-4000-8000-00000000000d", "office-hours", "nvidia-l4", 1,
                   "DEPLOYING", "SCALED_DOWN", 0, 0, -1, None, None, 3600, suspended=True),
    FakeDeployment("scaled-to-zero", "7e1d2c3b-0000-4000-8000-00000000000e", "office-hours", "nvidia-l4", 1,
                   "SCALED_DOWN", "SCALED_DOWN", 0, 0, 1, 0, 1, 3600),
    # Running, but with idle health polling off its health was last observed before it started.
    FakeDeployment("running-unpolled", "7e1d2c3b-0000-4000-8000-000000000011", "always-on", "nvidia-l4", 1,
                   "DEPLOYED", "SCALED_DOWN", 0, 0, 1, None, None, 0),
)

#: What each deployment alert must say of the troubled scenario: the policy it names, and how many of its
#: deployments (broken-llm; slow-embed; stuck-start, warming-up and first-seen-starting). on-hold, scaled-to-zero
#: and running-unpolled must be left out.
TROUBLED_POLICIES_BY_ALERT = {
    "SimplismartDeploymentUnhealthy": {"office-hours": 1},
    "SimplismartDeploymentDegraded": {"office-hours": 1},
    "SimplismartDeploymentStartNotHealthy": {"office-hours": 3},
}


def publish_inventory(metrics: Metrics, deployments: tuple[FakeDeployment, ...], now: float) -> None:
    """Set every per-deployment gauge, as the daemon does after an inventory and health poll."""
    running_gpus: dict[str, int] = {}
    for d in deployments:
        next_at = now + d.next_transition_in_seconds if d.next_transition_in_seconds else 0
        held = (d.desired_min if d.desired_min is not None else 1) * d.gpus if d.status == "DEPLOYED" else 0
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
                running_gpus=held,
            )
        )
        running_gpus[d.accelerator] = running_gpus.get(d.accelerator, 0) + held
    for accelerator, gpus in running_gpus.items():
        metrics.running_gpus.labels(accelerator=accelerator).set(gpus)


def publish_exceptions(metrics: Metrics) -> None:
    """Set the exception gauges of the healthy organization as the daemon does: one suspension (on-hold-l4),
    one override (:data:`OVERRIDDEN`, no per-deployment series with ``off`` detail)."""
    if metrics.deployments.detail != "off":
        metrics.deployment_override.labels(deployment=OVERRIDDEN.name, deployment_id=OVERRIDDEN.deployment_id).set(1)
    metrics.exceptions_active.labels(kind="suspend").set(sum(1 for d in HEALTHY if d.suspended))
    metrics.exceptions_active.labels(kind="override").set(1)


class TroubledScaler:
    """A scaler in every trouble an alert exists for (the leader of its install), advanced one tick at a time."""

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
        m.org_id_refused.set(1)
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

    def command(self, name: str) -> tuple[str, str]:
        """The troubled scaler takes no command: answer 404."""
        return "404 Not Found", f"no command {name!r}: the troubled scaler takes none\n"

    def take_failed_scrape(self) -> bool:
        """The troubled scaler answers every scrape."""
        return False


#: The organization every healthy replica reports alike: 4 deployments, one suspended, one
#: stopped by its nightly policy; 4 GPUs running (1 A100, 3 L4); 2 policies.
HEALTHY = (
    FakeDeployment("chat-a100", "7e1d2c3b-0000-4000-8000-000000000101", "office-hours", "nvidia-a100", 1,
                   "DEPLOYED", "Healthy", 1, 0, 1, 1, 2, 3600),
    FakeDeployment("embed-l4", "7e1d2c3b-0000-4000-8000-000000000102", "office-hours", "nvidia-l4", 1,
                   "DEPLOYED", "Healthy", 2, 0, 1, 2, 4, 3600),
    FakeDeployment("on-hold-l4", "7e1d2c3b-0000-4000-8000-000000000103", "office-hours", "nvidia-l4", 1,
                   "DEPLOYED", "Healthy", 1, 0, 1, 1, 1, 3600, suspended=True),
    # Stopped by its policy: what the leader saves when told to count ("save").
    FakeDeployment("batch-h100", "7e1d2c3b-0000-4000-8000-000000000104", "nightly-batch", "nvidia-h100", 1,
                   "SCALED_DOWN", "SCALED_DOWN", 0, 0, 0, None, None, 7200),
)
#: The deployment a person's override keeps running in the healthy organization (on-hold-l4 is suspended).
OVERRIDDEN = HEALTHY[0]
#: What one "save" command counts for batch-h100: one GPU-hour, at $2.50 an hour.
SAVED_PER_COMMAND = (3600.0, 2.5)


class Replica:
    """One healthy replica of a scaler run with several instances: the leader or a standby.

    Every replica reports :data:`HEALTHY` alike, as the daemon's standbys keep polling and
    reporting the organization. Its commands (see :meth:`command`) play a failover.
    """

    def __init__(self, metrics: Metrics, *, leading: bool) -> None:
        self.metrics = metrics
        self.leading = leading
        self._fail_next_scrape = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Set the values of a healthy replica that has loaded its policies and listed the organization."""
        m = self.metrics
        m.build_info.info({"version": __version__})
        policies = sorted({d.policy for d in HEALTHY})
        for policy in policies:
            m.initialise_policy(policy)
        m.policies_loaded.set(len(policies))
        m.policy_reloads.labels(result="success").inc()
        m.policy_last_reload_successful.set(1)
        m.policy_conflicts.set(0)
        m.api_auth_ok.set(1)
        m.wallet_blocked.set(0)
        m.org_id_refused.set(0)
        publish_inventory(m, HEALTHY, time.time())
        publish_exceptions(m)
        m.leader.set(1 if self.leading else 0)
        if self.leading:
            m.leadership_changes.labels(change="acquired").inc()
        self.tick()

    def tick(self) -> None:
        """Advance by one tick: a reconcile and a health poll have just finished."""
        now = time.time()
        self.metrics.last_reconcile.set(now)
        self.metrics.last_health_poll.set(now)
        self.metrics.scheduler_events.labels(event="executed").inc()

    def command(self, name: str) -> tuple[str, str]:
        """Carry out one command; return the HTTP status line and a one-line answer.

        ``lead``: become the leader; ``step-down``: become a standby; ``save``: count one
        GPU-hour saved on batch-h100 (refused on a standby: only the instance that may act
        counts savings); ``reload``: count a successful policy reload; ``fail-next-scrape``:
        answer the next scrape 503.
        """
        m = self.metrics
        with self._lock:
            if name in ("lead", "step-down"):
                leading = name == "lead"
                if leading == self.leading:
                    role = "the leader" if leading else "a standby"
                    return "409 Conflict", f"{name}: this replica is already {role}\n"
                self.leading = leading
                m.leader.set(1 if leading else 0)
                m.leadership_changes.labels(change="acquired" if leading else "lost").inc()
            elif name == "save":
                if not self.leading:
                    return "409 Conflict", "save: a standby counts no savings\n"
                saving = next(d for d in HEALTHY if d.status == "SCALED_DOWN")
                series = m.deployments.get(saving.deployment_id)
                if series is None:
                    return "409 Conflict", f"save: {saving.name} is not tracked\n"
                gpu_seconds, dollars = SAVED_PER_COMMAND
                m.deployments.add_saving(series, gpu_seconds=gpu_seconds, dollars=dollars)  # as the daemon counts
            elif name == "reload":
                m.policy_reloads.labels(result="success").inc()
            elif name == "fail-next-scrape":
                self._fail_next_scrape = True
            else:
                return "404 Not Found", f"no command {name!r}\n"
        return "200 OK", f"{name}: done\n"

    def take_failed_scrape(self) -> bool:
        """Return whether this scrape must fail (once per ``fail-next-scrape``)."""
        with self._lock:
            failing, self._fail_next_scrape = self._fail_next_scrape, False
        return failing


class StandIn(Protocol):
    """What the server needs of a stand-in: its metrics, its ticks, its commands."""

    metrics: Metrics

    def start(self) -> None: ...

    def tick(self) -> None: ...

    def command(self, name: str) -> tuple[str, str]: ...

    def take_failed_scrape(self) -> bool: ...


#: The stand-ins ``--serve KIND:PORT`` can serve.
KINDS: dict[str, Callable[[Metrics], StandIn]] = {
    "troubled": TroubledScaler,
    "leader": lambda metrics: Replica(metrics, leading=True),
    "standby": lambda metrics: Replica(metrics, leading=False),
}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def stand_in_app(stand_in: StandIn) -> WSGIApp:
    """Return the WSGI app of one stand-in: ``/metrics`` (or 503 when a failed scrape is due) and its commands."""
    metrics_app = make_wsgi_app(stand_in.metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            if environ.get("REQUEST_METHOD") != "POST":
                start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
                return [b"commands are POSTed\n"]
            status, text = stand_in.command(path.removeprefix(CONTROL_PREFIX))
            start_response(status, [("Content-Type", "text/plain")])
            return [text.encode()]
        if stand_in.take_failed_scrape():
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"this scrape fails on purpose\n"]
        return metrics_app(environ, start_response)

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Leave the test output free of one line per scrape."""


def serve(served: list[tuple[str, Any, int]]) -> None:
    """Serve each (kind, detail, port) of ``served`` on 127.0.0.1:port until SIGTERM or SIGINT.

    Every port is bound before any answers, so once one answers they all accept connections.
    """
    stand_ins = [KINDS[kind](Metrics(deployment_detail=detail)) for kind, detail, _port in served]
    for stand_in in stand_ins:
        stand_in.start()
    servers = [
        make_server("127.0.0.1", port, stand_in_app(stand_in), handler_class=_QuietHandler)
        for stand_in, (_kind, _detail, port) in zip(stand_ins, served, strict=True)
    ]
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = [threading.Thread(target=server.serve_forever, name=f"metrics-{port}", daemon=True)
               for server, (_kind, _detail, port) in zip(servers, served, strict=True)]
    for thread in threads:
        thread.start()
    while not stop.wait(TICK_SECONDS):
        for stand_in in stand_ins:
            stand_in.tick()
    for server in servers:
        server.shutdown()
        server.server_close()


def _served(text: str) -> tuple[str, str, int]:
    kind_detail, _, port = text.partition(":")
    kind, _, detail = kind_detail.partition("@")
    detail = detail or DEFAULT_DEPLOYMENT_DETAIL
    if kind not in KINDS or detail not in DEPLOYMENT_DETAILS or not port.isdigit():
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected KIND[@DETAIL]:PORT with KIND one of {', '.join(KINDS)}"
            f" and DETAIL one of {', '.join(DEPLOYMENT_DETAILS)}"
        )
    return kind, detail, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=_served, action="append", required=True, metavar="KIND[@DETAIL]:PORT",
                        help=f"serve a stand-in of KIND ({', '.join(KINDS)}) on 127.0.0.1:PORT, its per-deployment "
                             f"series in DETAIL ({', '.join(DEPLOYMENT_DETAILS)}); repeatable")
    args = parser.parse_args()
    serve(args.serve)


if __name__ == "__main__":
    main()
