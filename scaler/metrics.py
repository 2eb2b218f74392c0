"""Every Prometheus metric the scaler exports, declared once, on an injectable registry.

Names are a contract with the Grafana dashboard and the alert rules: units end the
name, counters end in ``_total``, labels are bounded (deployment, policy, action,
result; never a URL or a raw id in a path). Series labelled by deployment carry
both ``deployment`` (the name, for people) and ``deployment_id`` (the key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from scaler.vocabulary import ACTIONS, FINAL_RESULTS, DeploymentStatus, HealthStatus

# `_created` series double the series count and no dashboard or alert reads them.
disable_created_metrics()

#: Values of the ``result`` label of ``scaler_actions_total``: the results an action finishes with.
ACTION_RESULTS = FINAL_RESULTS
ERROR_REASONS = (
    "auth",
    "connection",
    "invalid_request",
    "malformed_response",
    "not_found",
    "quota",
    "rate_limited",
    "server_error",
    "timeout",
    "wallet_blocked",
    "other",
)
DEPLOYMENT_STATUSES = tuple(status.value for status in DeploymentStatus)
HEALTH_VALUES = tuple(health.value for health in HealthStatus)
SCHEDULER_EVENTS = ("executed", "error", "missed", "max_instances")
#: Values of the ``direction`` label of ``scaler_clock_jumps_total``.
CLOCK_JUMP_DIRECTIONS = ("forward", "backward")
#: Values of the ``ready`` label of ``scaler_deployment_pods``.
POD_READINESS = ("true", "false")
#: Values of the ``bound`` label of ``scaler_deployment_desired_replicas``.
REPLICA_BOUNDS = ("min", "max")
POLICY_RELOAD_RESULTS = ("success", "error")
DEPLOYMENT_LABELS = ("deployment", "deployment_id")

_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The scaler's metrics, all registered on ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry

        # --- API client --------------------------------------------------
        self.api_request_duration = Histogram(
            "scaler_api_request_duration_seconds",
            "Duration of one HTTP request to the Simplismart API, by endpoint template.",
            ["endpoint", "method", "status_code"],
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.api_request_errors = Counter(
            "scaler_api_request_errors_total",
            "Failed API requests by endpoint and kind of failure (after retries: one per call).",
            ["endpoint", "reason"],
            registry=r,
        )
        self.api_retries = Counter(
            "scaler_api_retries_total",
            "Retries of transient API failures, by endpoint.",
            ["endpoint"],
            registry=r,
        )
        self.api_malformed = Counter(
            "scaler_api_malformed_responses_total",
            "API responses (or list items) that could not be understood and were skipped.",
            ["endpoint"],
            registry=r,
        )
        self.api_auth_ok = Gauge(
            "scaler_api_auth_ok",
            "1 while the platform accepts the token, 0 after a 401/403 until a probe succeeds.",
            registry=r,
        )
        self.wallet_blocked = Gauge(
            "scaler_wallet_blocked",
            "1 while the platform reports the wallet blocked (402): starts and scale-ups pause.",
            registry=r,
        )

        # --- Actions -----------------------------------------------------
        self.actions = Counter(
            "scaler_actions_total",
            "Actions decided by the scaler, by action, result and policy.",
            ["action", "result", "policy"],
            registry=r,
        )
        self.action_errors = Counter(
            "scaler_action_errors_total",
            "Actions that failed, by action and reason.",
            ["action", "reason"],
            registry=r,
        )

        # --- Deployments -------------------------------------------------
        self.deployments = DeploymentMetrics()
        """Every series labelled by deployment (see :class:`DeploymentMetrics`)."""
        r.register(self.deployments)
        self.running_gpus = Gauge(
            "scaler_running_gpus",
            "GPUs held by running deployments (replica floor x accelerator count), by accelerator.",
            ["accelerator"],
            registry=r,
        )

        # --- Loop --------------------------------------------------------
        self.reconcile_duration = Histogram(
            "scaler_reconcile_duration_seconds",
            "Wall time of one reconcile cycle.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.last_reconcile = Gauge(
            "scaler_last_reconcile_timestamp_seconds",
            "Unix time at which the last reconcile cycle finished.",
            registry=r,
        )
        self.reconcile_errors = Counter(
            "scaler_reconcile_errors_total",
            "Reconcile cycles, or single deployments within one, that failed with an error.",
            registry=r,
        )
        self.health_poll_duration = Histogram(
            "scaler_health_poll_duration_seconds",
            "Wall time of one health poll over the inventory.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.last_health_poll = Gauge(
            "scaler_last_health_poll_timestamp_seconds",
            "Unix time at which the last health poll finished.",
            registry=r,
        )
        self.scheduler_events = Counter(
            "scaler_scheduler_events_total",
            "APScheduler job events: executed, error, missed, max_instances.",
            ["event"],
            registry=r,
        )
        self.clock_jumps = Counter(
            "scaler_clock_jumps_total",
            "Steps of the wall clock against the monotonic clock (NTP corrections, VM resumes), by direction.",
            ["direction"],
            registry=r,
        )

        # --- Policies ----------------------------------------------------
        self.policy_reloads = Counter(
            "scaler_policy_reloads_total",
            "Policy set loads, by result; a rejected set leaves the previous one in force.",
            ["result"],
            registry=r,
        )
        self.policy_last_reload_successful = Gauge(
            "scaler_policy_last_reload_successful",
            "1 when the last policy load succeeded, 0 when it was rejected (the previous set stays in force).",
            registry=r,
        )
        self.policies_loaded = Gauge(
            "scaler_policies_loaded",
            "Policies in the set now in force.",
            registry=r,
        )
        self.policy_conflicts = Gauge(
            "scaler_policy_conflicts",
            "Deployments matched by two policies of the same highest priority (left alone).",
            registry=r,
        )

        # --- High availability --------------------------------------------
        self.leader = Gauge(
            "scaler_leader",
            "1 while this instance holds leadership and may act, 0 on a standby.",
            registry=r,
        )
        self.leadership_changes = Counter(
            "scaler_leadership_changes_total",
            "Leadership gained or lost by this instance.",
            ["change"],
            registry=r,
        )

        self.build_info = Info("scaler_build", "Version of the running scaler.", registry=r)

        self._initialise_label_values()

    def _initialise_label_values(self) -> None:
        """Create the series with bounded label sets so they exist before their first event."""
        for action in ACTIONS:
            for reason in ERROR_REASONS:
                self.action_errors.labels(action=action, reason=reason)
        for event in SCHEDULER_EVENTS:
            self.scheduler_events.labels(event=event)
        for direction in CLOCK_JUMP_DIRECTIONS:
            self.clock_jumps.labels(direction=direction)
        for result in POLICY_RELOAD_RESULTS:
            self.policy_reloads.labels(result=result)
        for change in ("acquired", "lost"):
            self.leadership_changes.labels(change=change)

    def initialise_endpoints(self, endpoints: Iterable[str]) -> None:
        """Create the API series of ``endpoints`` (the client's), so they exist before their first call."""
        for endpoint in endpoints:
            self.api_retries.labels(endpoint=endpoint)
            self.api_malformed.labels(endpoint=endpoint)
            for reason in ERROR_REASONS:
                self.api_request_errors.labels(endpoint=endpoint, reason=reason)

    def initialise_policy(self, policy: str) -> None:
        """Create the action series of one policy, so they exist before its first action."""
        for action in ACTIONS:
            for result in ACTION_RESULTS:
                self.actions.labels(action=action, result=result, policy=policy)


@dataclass(slots=True)
class DeploymentSeries:
    """What one deployment's series show; the labels it shares with every one of them first."""

    name: str
    deployment_id: str
    policy: str
    accelerator: str
    status: str | None = None
    """The one-hot ``status`` (all 0 while ``None``)."""
    health: str | None = None
    """The one-hot ``health`` label value (all 0 while unknown)."""
    pods_ready: float = 0.0
    pods_not_ready: float = 0.0
    desired_min: float | None = None
    """The desired bounds; ``scaler_deployment_desired_replicas`` is absent while ``None``."""
    desired_max: float | None = None
    desired_running: float = 0.0
    next_transition: float = 0.0
    suspended: float = 0.0
    gpu_seconds_saved: float = 0.0
    cost_saved: float = 0.0


_INFO_LABELS = (*DEPLOYMENT_LABELS, "policy", "accelerator")
_SAVING_LABELS = (*DEPLOYMENT_LABELS, "accelerator")
#: The families of :class:`DeploymentMetrics`, in the order it yields them: (name, kind, help, labels).
DEPLOYMENT_FAMILIES = (
    ("scaler_deployment_info", "gauge",
     "1 for every deployment in the inventory, with the policy that governs it ('' for none).", _INFO_LABELS),
    ("scaler_deployment_health", "gauge", "1 for the deployment's current health value, 0 for the others.",
     (*DEPLOYMENT_LABELS, "health")),
    ("scaler_deployment_status", "gauge", "1 for the deployment's current status, 0 for the others.",
     (*DEPLOYMENT_LABELS, "status")),
    ("scaler_deployment_pods", "gauge",
     'Pods of the deployment as reported by fetch-status, by readiness (ready="true"|"false").',
     (*DEPLOYMENT_LABELS, "ready")),
    ("scaler_deployment_desired_replicas", "gauge",
     "Desired replica bounds (bound=min|max); absent when the desired state sets none.", (*DEPLOYMENT_LABELS, "bound")),
    ("scaler_deployment_desired_running", "gauge",
     "1 when the desired state is running, 0 when stopped, -1 when left alone.", DEPLOYMENT_LABELS),
    ("scaler_deployment_next_transition_timestamp_seconds", "gauge",
     "Unix time of the deployment's next scheduled change of desired state (0: none).", DEPLOYMENT_LABELS),
    ("scaler_deployment_suspended", "gauge", "1 while a person has suspended automation of the deployment.",
     DEPLOYMENT_LABELS),
    ("scaler_gpu_seconds_saved_total", "counter",
     "GPU-seconds saved against the baseline, from what the scaler actually applied.", _SAVING_LABELS),
    ("scaler_cost_saved_dollars_total", "counter",
     "Dollars saved against the baseline, from what the scaler actually applied.", _SAVING_LABELS),
)


class DeploymentMetrics:
    """Every series labelled by deployment, rendered at scrape time from one record per deployment.

    prometheus_client keeps an object with its own lock for every labelled series: the 24
    series of each deployment cost about 160 MiB for 10,000 deployments. One slotted
    :class:`DeploymentSeries` per deployment holds the same values in a few hundred bytes,
    and a cycle sets attributes instead of looking children up. The families, their help
    and their labels are those of :data:`DEPLOYMENT_FAMILIES`; ``info``, ``status``,
    ``health``, ``pods``, ``desired_running``, ``next_transition``, ``suspended`` and both
    savings counters exist for every deployment tracked; ``desired_replicas`` only while
    bounds are desired.
    """

    def __init__(self) -> None:
        self._series: dict[str, DeploymentSeries] = {}

    def get(self, deployment_id: str) -> DeploymentSeries | None:
        """The series of ``deployment_id``, if it is tracked."""
        return self._series.get(deployment_id)

    def track(self, series: DeploymentSeries) -> DeploymentSeries:
        """Track ``series`` (replacing any of the same deployment id); return it."""
        self._series[series.deployment_id] = series
        return series

    def drop(self, deployment_id: str) -> None:
        """Remove every series of ``deployment_id``."""
        self._series.pop(deployment_id, None)

    def tracked(self) -> list[str]:
        """The deployment ids tracked."""
        return list(self._series)

    def describe(self) -> Iterator[Metric]:
        """The families, without samples (for the registry's name index)."""
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        """The families with a sample for every tracked deployment."""
        families = self._families()
        info, health, status, pods, bounds, running, transition, suspended, gpu, cost = families
        for series in list(self._series.values()):
            key = [series.name, series.deployment_id]
            info.add_metric([*key, series.policy, series.accelerator], 1.0)
            for value in HEALTH_VALUES:
                health.add_metric([*key, value], 1.0 if value == series.health else 0.0)
            for value in DEPLOYMENT_STATUSES:
                status.add_metric([*key, value], 1.0 if value == series.status else 0.0)
            pods.add_metric([*key, "true"], series.pods_ready)
            pods.add_metric([*key, "false"], series.pods_not_ready)
            if series.desired_min is not None and series.desired_max is not None:
                bounds.add_metric([*key, "min"], series.desired_min)
                bounds.add_metric([*key, "max"], series.desired_max)
            running.add_metric(key, series.desired_running)
            transition.add_metric(key, series.next_transition)
            suspended.add_metric(key, series.suspended)
            gpu.add_metric([*key, series.accelerator], series.gpu_seconds_saved)
            cost.add_metric([*key, series.accelerator], series.cost_saved)
        return iter(families)

    @staticmethod
    def _families() -> list[Metric]:
        return [
            (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, documentation, labels=labels)
            for name, kind, documentation, labels in DEPLOYMENT_FAMILIES
        ]
