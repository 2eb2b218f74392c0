"""Every Prometheus metric the scaler exports, declared once, on an injectable registry.

Names are a contract with the Grafana dashboard and the alert rules: units end the
name, counters end in ``_total``, labels are bounded (deployment, policy, action,
result; never a URL or a raw id in a path). Series labelled by deployment carry
both ``deployment`` (the name, for people) and ``deployment_id`` (the key).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics

# `_created` series double the series count and no dashboard or alert reads them.
disable_created_metrics()

ACTIONS = ("start", "stop", "update_replicas", "restart", "delete")
ACTION_RESULTS = ("success", "error", "dry_run", "deferred", "blocked")
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
DEPLOYMENT_STATUSES = (
    "DEPLOYED",
    "DEPLOYING",
    "FAILED",
    "DELETED",
    "DELETING",
    "SCALED_DOWN",
    "UNKNOWN",
)
HEALTH_VALUES = (
    "Healthy",
    "Progressing",
    "Initializing",
    "Degraded",
    "Unhealthy",
    "Unknown",
    "SCALED_DOWN",
    "Missing",
    "Unrecognized",
)
SCHEDULER_EVENTS = ("executed", "error", "missed", "max_instances")
#: Values of the ``direction`` label of ``scaler_clock_jumps_total``.
CLOCK_JUMP_DIRECTIONS = ("forward", "backward")
#: Values of the ``ready`` label of ``scaler_deployment_pods``.
POD_READINESS = ("true", "false")
#: Values of the ``bound`` label of ``scaler_deployment_desired_replicas``.
REPLICA_BOUNDS = ("min", "max")
POLICY_RELOAD_RESULTS = ("success", "error")
API_ENDPOINTS = {
    "list_deployments": ("GET", "/deployments/list/model/"),
    "get_health": ("GET", "/deployments/model-deployment/fetch-status/{deployment_id}/"),
    "update_replicas": ("POST", "/deployments/{deployment_id}/update-replicas/"),
    "startstop": ("POST", "/deployments/{deployment_id}/startstop/"),
    "delete": ("DELETE", "/deployments/{deployment_id}/delete/"),
}
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
        self.deployment_info = Gauge(
            "scaler_deployment_info",
            "1 for every deployment in the inventory, with the policy that governs it ('' for none).",
            [*DEPLOYMENT_LABELS, "policy", "accelerator"],
            registry=r,
        )
        self.deployment_health = Gauge(
            "scaler_deployment_health",
            "1 for the deployment's current health value, 0 for the others.",
            [*DEPLOYMENT_LABELS, "health"],
            registry=r,
        )
        self.deployment_status = Gauge(
            "scaler_deployment_status",
            "1 for the deployment's current status, 0 for the others.",
            [*DEPLOYMENT_LABELS, "status"],
            registry=r,
        )
        self.deployment_pods = Gauge(
            "scaler_deployment_pods",
            "Pods of the deployment as reported by fetch-status, by readiness (ready=\"true\"|\"false\").",
            [*DEPLOYMENT_LABELS, "ready"],
            registry=r,
        )
        self.deployment_desired_replicas = Gauge(
            "scaler_deployment_desired_replicas",
            "Desired replica bounds (bound=min|max); absent when the desired state sets none.",
            [*DEPLOYMENT_LABELS, "bound"],
            registry=r,
        )
        self.deployment_desired_running = Gauge(
            "scaler_deployment_desired_running",
            "1 when the desired state is running, 0 when stopped, -1 when left alone.",
            DEPLOYMENT_LABELS,
            registry=r,
        )
        self.deployment_next_transition = Gauge(
            "scaler_deployment_next_transition_timestamp_seconds",
            "Unix time of the deployment's next scheduled change of desired state (0: none).",
            DEPLOYMENT_LABELS,
            registry=r,
        )
        self.deployment_suspended = Gauge(
            "scaler_deployment_suspended",
            "1 while a person has suspended automation of the deployment.",
            DEPLOYMENT_LABELS,
            registry=r,
        )
        self.gpu_seconds_saved = Counter(
            "scaler_gpu_seconds_saved_total",
            "GPU-seconds saved against the baseline, from what the scaler actually applied.",
            [*DEPLOYMENT_LABELS, "accelerator"],
            registry=r,
        )
        self.cost_saved = Counter(
            "scaler_cost_saved_dollars_total",
            "Dollars saved against the baseline, from what the scaler actually applied.",
            [*DEPLOYMENT_LABELS, "accelerator"],
            registry=r,
        )
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
        for endpoint, (method, _path) in API_ENDPOINTS.items():
            self.api_retries.labels(endpoint=endpoint)
            self.api_malformed.labels(endpoint=endpoint)
            for reason in ERROR_REASONS:
                self.api_request_errors.labels(endpoint=endpoint, reason=reason)
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

    def initialise_policy(self, policy: str) -> None:
        """Create the action series of one policy, so they exist before its first action."""
        for action in ACTIONS:
            for result in ACTION_RESULTS:
                self.actions.labels(action=action, result=result, policy=policy)


def set_one_hot(gauge: Gauge, labels: dict[str, str], key: str, current: str, values: Iterable[str]) -> None:
    """Set ``gauge{**labels, key=v}`` to 1 for ``v == current`` and 0 for every other value."""
    for value in values:
        gauge.labels(**labels, **{key: value}).set(1 if value == current else 0)
