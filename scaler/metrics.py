"""Every Prometheus metric the scaler exports, declared once, on an injectable registry.

Names are a contract with the Grafana dashboard and the alert rules: units end the
name, counters end in ``_total``, labels are bounded (deployment, policy, action,
result; never a URL or a raw id in a path). Series labelled by deployment carry
``deployment_id`` (the key); ``scaler_deployment_info`` always, and every other one in
``full`` detail, also carries ``deployment`` (the name, for people). How many series
each deployment costs is a setting (:data:`DEPLOYMENT_DETAILS`); the per-policy series
exist in every detail, so organization-level panels and alerts need no per-deployment one.
"""

# This module may exceed the 400 lines a module is otherwise held to: it is the one place where
# metrics are declared (every name, help text and label set the dashboard and the alerts read),
# with the writer of the per-deployment families beside their declarations. Split, it would
# scatter one contract over several files.

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from scaler.vocabulary import ACTIONS, FINAL_RESULTS, NOTIFY_EVENTS, NOTIFY_RESULTS, DeploymentStatus, HealthStatus

# `_created` series double the series count and no dashboard or alert reads them.
disable_created_metrics()

PEAK_START_RESULTS = ("ready", "late")
#: Start-up times from a minute to two hours (the learned lead time's default bounds).
STARTUP_BUCKETS = (60, 120, 180, 300, 420, 600, 900, 1200, 1500, 1800, 2700, 3600, 5400, 7200)
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
#: Values of the ``kind`` label of ``scaler_exceptions_active``.
EXCEPTION_KINDS = ("suspend", "override")
#: Values of the ``ready`` label of ``scaler_deployment_pods``.
POD_READINESS = ("true", "false")
#: Values of the ``bound`` label of ``scaler_deployment_desired_replicas``.
REPLICA_BOUNDS = ("min", "max")
POLICY_RELOAD_RESULTS = ("success", "error")
DEPLOYMENT_LABELS = ("deployment", "deployment_id")

_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The scaler's metrics, all registered on ``registry`` (a fresh one by default).

    ``deployment_detail`` chooses the per-deployment series (see :class:`DeploymentMetrics`).
    :meth:`exposition` is what ``/metrics`` serves: the same samples ``registry`` collects,
    written faster.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, deployment_detail: DeploymentDetail = "compact"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # Every metric but the per-deployment ones lives in `r`, which `registry` collects
        # through `_Forwarded`: `exposition` writes `r` with prometheus_client and the
        # per-deployment series with DeploymentMetrics' own writer.
        self._standard = r = CollectorRegistry()

        self._declare_client(r)
        self._declare_actions(r)
        self._declare_deployments(r, deployment_detail)
        self._declare_loop(r)
        self._declare_startups(r)
        self._declare_policies(r)
        self._declare_leadership(r)
        self._declare_exceptions(r)
        self._declare_notifications(r)

        self.build_info = Info("scaler_build", "Version of the running scaler.", registry=r)

        self._initialise_label_values()
        self.registry.register(_Forwarded(r))

    def _declare_client(self, r: CollectorRegistry) -> None:
        """The API client: requests, retries, and what the platform refuses."""
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
        self.org_id_refused = Gauge(
            "scaler_org_id_refused",
            "1 while the platform refuses SCALER_ORG_ID on start/stop calls: starts and stops pause.",
            registry=r,
        )

        # --- Actions -----------------------------------------------------

    def _declare_actions(self, r: CollectorRegistry) -> None:
        """The actions decided, by result and by failure."""
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

    def _declare_deployments(self, r: CollectorRegistry, detail: DeploymentDetail) -> None:
        """The per-deployment series and the GPUs running."""
        self.deployments = DeploymentMetrics(detail)
        """Every series labelled by deployment, and the per-policy sums (see :class:`DeploymentMetrics`)."""
        self.registry.register(self.deployments)
        self.running_gpus = Gauge(
            "scaler_running_gpus",
            "GPUs held by running deployments (replica floor x accelerator count), by accelerator.",
            ["accelerator"],
            registry=r,
        )

        # --- Loop --------------------------------------------------------

    def _declare_loop(self, r: CollectorRegistry) -> None:
        """The reconcile cycle, the health poll, the scheduler and the clock."""
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

        # --- Start-ups (lead_time: auto) ----------------------------------

    def _declare_startups(self, r: CollectorRegistry) -> None:
        """Start-ups of deployments whose policy learns its lead time."""
        self.deployment_startup = Histogram(
            "scaler_deployment_startup_seconds",
            "Observed start-up times of deployments whose policy learns its lead time: from a start (or a "
            "scale-up from a floor of 0) to the first Healthy answer with every pod ready, by accelerator.",
            ["accelerator"],
            buckets=STARTUP_BUCKETS,
            registry=r,
        )
        self.peak_starts = Counter(
            "scaler_peak_starts_total",
            "Nominal openings of running windows with lead_time: auto, by whether the deployment was "
            "Healthy then (ready) or not (late).",
            ["result"],
            registry=r,
        )

        # --- Policies ----------------------------------------------------

    def _declare_policies(self, r: CollectorRegistry) -> None:
        """The policy set in force and its reloads."""
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
        self.policy_matched_deployments = Gauge(
            "scaler_policy_matched_deployments",
            "Deployments of the last inventory whose match each policy of the set in force selects (0: none).",
            ["policy"],
            registry=r,
        )
        self.policy_conflicts = Gauge(
            "scaler_policy_conflicts",
            "Deployments matched by two policies of the same highest priority (left alone).",
            registry=r,
        )

        # --- High availability --------------------------------------------

    def _declare_leadership(self, r: CollectorRegistry) -> None:
        """Leadership of this instance (high availability)."""
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

        # --- People's exceptions (the control API) ---------------------------

    def _declare_exceptions(self, r: CollectorRegistry) -> None:
        """People's exceptions (the control API)."""
        self.deployment_override = Gauge(
            "scaler_deployment_override",
            "1 while a person's override holds the deployment in a state of their choosing.",
            ["deployment", "deployment_id"],
            registry=r,
        )
        self.exceptions_active = Gauge(
            "scaler_exceptions_active",
            "People's exceptions in force, by kind (suspend, override).",
            ["kind"],
            registry=r,
        )

        # --- Notices (webhooks) ----------------------------------------------

    def _declare_notifications(self, r: CollectorRegistry) -> None:
        """Notices to webhooks."""
        self.notifications = Counter(
            "scaler_notifications_total",
            "Notices to webhooks by event and result: delivered (2xx), rejected (4xx, not retried), "
            "failed (given up after retries) or dropped (the queue was full); one per notice and webhook.",
            ["event", "result"],
            registry=r,
        )

    def _initialise_label_values(self) -> None:
        """Create the series with bounded label sets so they exist before their first event."""
        for kind in EXCEPTION_KINDS:
            self.exceptions_active.labels(kind=kind)
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
        for result in PEAK_START_RESULTS:
            self.peak_starts.labels(result=result)
        for event in NOTIFY_EVENTS:
            for result in NOTIFY_RESULTS:
                self.notifications.labels(event=event, result=result)

    def initialise_endpoints(self, endpoints: Iterable[str]) -> None:
        """Create the API series of ``endpoints`` (the client's), so they exist before their first call."""
        for endpoint in endpoints:
            self.api_retries.labels(endpoint=endpoint)
            self.api_malformed.labels(endpoint=endpoint)
            for reason in ERROR_REASONS:
                self.api_request_errors.labels(endpoint=endpoint, reason=reason)

    def exposition(self, names: Sequence[str] = ()) -> bytes:
        """Every metric in the text exposition format (0.0.4): what ``/metrics`` serves.

        ``names`` (``name[]`` of the request), when given, restricts it to those series names.
        """
        if not names:
            return generate_latest(self._standard) + self.deployments.exposition().encode()
        return generate_latest(self.registry.restricted_registry(names))

    def initialise_policy(self, policy: str) -> None:
        """Create the series of one policy, so they exist before its first action or inventory."""
        self.policy_matched_deployments.labels(policy=policy)
        for action in ACTIONS:
            for result in ACTION_RESULTS:
                self.actions.labels(action=action, result=result, policy=policy)


class _Forwarded:
    """Collects another registry's metrics, so one registry shows everything."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        return self._registry.collect()

    def describe(self) -> Iterator[Metric]:
        return self._registry.collect()


@dataclass(slots=True)
class DeploymentSeries:
    """What one deployment's series show; the labels it shares with every one of them first."""

    name: str
    deployment_id: str
    policy: str
    accelerator: str
    status: str | None = None
    """The current ``status`` (none shown while ``None``)."""
    health: str | None = None
    """The current ``health`` label value (none shown while unknown)."""
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
    running_gpus: float = 0.0
    """GPUs the deployment holds (see ``scaler_running_gpus``): summed by policy, never shown alone."""
    key_text: str = field(default="", repr=False, compare=False)
    """``deployment="…",deployment_id="…"``, escaped once (the text exposition's label prefix)."""
    id_text: str = field(default="", repr=False, compare=False)
    """``deployment_id="…"``, escaped once."""

    def __post_init__(self) -> None:
        self.id_text = f'deployment_id="{escape_label_value(self.deployment_id)}"'
        self.key_text = f'deployment="{escape_label_value(self.name)}",{self.id_text}'

    @property
    def desired(self) -> str:
        """The ``desired`` label of ``scaler_policy_deployments`` (see :data:`DESIRED_VALUES`)."""
        if self.suspended:
            return "suspended"
        if self.desired_running < 0:
            return "none"
        if self.desired_running == 0:
            return "stopped"
        if self.desired_min == 0:
            return "scale_to_zero"
        return "running"


#: How much per-deployment detail ``/metrics`` shows (``SCALER_METRICS_DEPLOYMENT_DETAIL``).
DEPLOYMENT_DETAILS = ("full", "compact", "off")
DeploymentDetail = Literal["full", "compact", "off"]
DEFAULT_DEPLOYMENT_DETAIL: DeploymentDetail = "compact"
#: Values of the ``desired`` label of ``scaler_policy_deployments``: wanted running with a replica
#: floor above 0, running with a floor of 0 (it may scale to zero), stopped, left alone (no
#: policy, a conflict, an unknown status), suspended by a person.
DESIRED_VALUES = ("running", "scale_to_zero", "stopped", "none", "suspended")

_INFO_LABELS = (*DEPLOYMENT_LABELS, "policy", "accelerator")
_SAVING_LABELS = (*DEPLOYMENT_LABELS, "accelerator")
_ID = ("deployment_id",)
#: The per-deployment families, in the order they are rendered:
#: (name, kind, help, labels in ``full``, labels in ``compact`` or ``None`` where ``compact`` leaves it out).
#: ``off`` renders none of them.
DEPLOYMENT_FAMILIES = (
    ("scaler_deployment_info", "gauge",
     "1 for every deployment in the inventory, with the policy that governs it ('' for none).",
     _INFO_LABELS, _INFO_LABELS),
    ("scaler_deployment_health", "gauge",
     "1 for the deployment's current health value (full detail: 0 for the others).",
     (*DEPLOYMENT_LABELS, "health"), (*_ID, "health")),
    ("scaler_deployment_status", "gauge",
     "1 for the deployment's current status (full detail: 0 for the others).",
     (*DEPLOYMENT_LABELS, "status"), (*_ID, "status")),
    ("scaler_deployment_pods", "gauge",
     'Pods of the deployment as reported by fetch-status, by readiness (ready="true"|"false").',
     (*DEPLOYMENT_LABELS, "ready"), None),
    ("scaler_deployment_desired_replicas", "gauge",
     "Desired replica bounds (bound=min|max); absent when the desired state sets none.",
     (*DEPLOYMENT_LABELS, "bound"), None),
    ("scaler_deployment_desired_running", "gauge",
     "1 when the desired state is running, 0 when stopped, -1 when left alone.", DEPLOYMENT_LABELS, _ID),
    ("scaler_deployment_next_transition_timestamp_seconds", "gauge",
     "Unix time of the deployment's next scheduled change of desired state (0: none).", DEPLOYMENT_LABELS, _ID),
    ("scaler_deployment_suspended", "gauge", "1 while a person has suspended automation of the deployment.",
     DEPLOYMENT_LABELS, None),
    ("scaler_gpu_seconds_saved_total", "counter",
     "GPU-seconds saved against the baseline, from what the scaler actually applied.", _SAVING_LABELS, _ID),
    ("scaler_cost_saved_dollars_total", "counter",
     "Dollars saved against the baseline, from what the scaler actually applied.", _SAVING_LABELS, _ID),
)
#: The per-policy families, rendered in every detail: (name, kind, help, labels).
POLICY_FAMILIES = (
    ("scaler_policy_deployments", "gauge",
     "Deployments by governing policy ('' for none), status, health ('' until observed) and desired state; "
     "only combinations that hold a deployment.",
     ("policy", "status", "health", "desired")),
    ("scaler_policy_running_gpus", "gauge",
     "GPUs held by DEPLOYED deployments, by governing policy and accelerator.", ("policy", "accelerator")),
    ("scaler_policy_gpu_seconds_saved_total", "counter",
     "GPU-seconds saved against the baseline, by the policy that governed the deployment and its accelerator.",
     ("policy", "accelerator")),
    ("scaler_policy_cost_saved_dollars_total", "counter",
     "Dollars saved against the baseline, by the policy that governed the deployment and its accelerator.",
     ("policy", "accelerator")),
)
#: Series each deployment can have at most, by detail (the policy families are shared, not per deployment).
SERIES_PER_DEPLOYMENT = {
    "full": 1 + len(HEALTH_VALUES) + len(DEPLOYMENT_STATUSES) + len(POD_READINESS) + len(REPLICA_BOUNDS) + 5,
    "compact": sum(1 for family in DEPLOYMENT_FAMILIES if family[4] is not None),
    "off": 0,
}


def escape_label_value(value: str) -> str:
    """Return ``value`` escaped for a label value of the text exposition format."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def format_sample_value(value: float) -> str:
    """Return ``value`` as the text exposition format writes it (integers without a fraction)."""
    value = float(value)
    if value.is_integer() and -1e15 < value < 1e15:
        return str(int(value))
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class _EscapedValues(dict[str, str]):
    """Label values escaped once per render (policies, accelerators, statuses and health repeat)."""

    def __missing__(self, value: str) -> str:
        self[value] = escaped = escape_label_value(value)
        return escaped


class _Families:
    """Collects the samples of several families, for the registry (label dicts) or as text (pre-escaped labels)."""

    def __init__(self, as_text: bool) -> None:
        self.as_text = as_text
        self.text: list[str] = []
        self.metrics: list[Metric] = []
        self._family: Metric | None = None
        self._name = ""

    def start(self, name: str, kind: str, documentation: str, labels: tuple[str, ...]) -> None:
        """Begin family ``name``; its samples follow."""
        if self.as_text:
            help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
            self.text.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
            self._name = name
        else:
            family_class = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            self._family = family_class(name, documentation, labels=labels)
            self.metrics.append(self._family)

    def add(self, label_text: str, values: list[str], value: float) -> None:
        """Add a sample: ``label_text`` for the text, ``values`` (in the family's label order) for the registry."""
        if self.as_text:
            self.text.append(f"{self._name}{{{label_text}}} {format_sample_value(value)}\n")
        else:
            assert self._family is not None
            self._family.add_metric(values, value)


class DeploymentMetrics:
    """Every series labelled by deployment, and the per-policy series summed from them, rendered at scrape time.

    prometheus_client keeps an object with its own lock for every labelled series: the 26
    series of each deployment cost about 160 MiB for 10,000 deployments, and its text
    writer needs about 7 µs a sample. One slotted :class:`DeploymentSeries` per deployment
    holds the same values in a few hundred bytes, a cycle sets attributes instead of
    looking children up, and :meth:`exposition` writes them with labels escaped once.

    ``detail`` chooses what is shown per deployment (:data:`DEPLOYMENT_FAMILIES`):

    - ``full``: every family; status and health one-hot (1 for the current value, 0 for
      every other); ``desired_replicas`` only while bounds are desired;
    - ``compact``: info (the only one carrying the name, policy and accelerator; join on
      ``deployment_id``), the current status and health only (health absent until
      observed), desired running, next transition and both savings counters: at most
      :data:`SERIES_PER_DEPLOYMENT` ``["compact"]`` series;
    - ``off``: none.

    The per-policy families (:data:`POLICY_FAMILIES`) are rendered in every detail. Their
    savings counters accumulate apart from the deployments' (a deployment leaving the
    inventory or changing policy must not make them go down); they start at 0 for each
    (policy, accelerator) the inventory holds and are never dropped.
    """

    def __init__(self, detail: DeploymentDetail = DEFAULT_DEPLOYMENT_DETAIL) -> None:
        if detail not in DEPLOYMENT_DETAILS:
            raise ValueError(f"detail must be one of {', '.join(DEPLOYMENT_DETAILS)}, not {detail!r}")
        self.detail = detail
        self._series: dict[str, DeploymentSeries] = {}
        self._saved: dict[tuple[str, str], list[float]] = {}

    def get(self, deployment_id: str) -> DeploymentSeries | None:
        """The series of ``deployment_id``, if it is tracked."""
        return self._series.get(deployment_id)

    def track(self, series: DeploymentSeries) -> DeploymentSeries:
        """Track ``series`` (replacing any of the same deployment id); return it."""
        self._series[series.deployment_id] = series
        return series

    def drop(self, deployment_id: str) -> None:
        """Remove every series of ``deployment_id`` (its policy's savings stay counted)."""
        self._series.pop(deployment_id, None)

    def tracked(self) -> list[str]:
        """The deployment ids tracked."""
        return list(self._series)

    def add_saving(self, series: DeploymentSeries, *, gpu_seconds: float, dollars: float) -> None:
        """Count a saving of ``series``' deployment, and of its policy and accelerator."""
        series.gpu_seconds_saved += gpu_seconds
        series.cost_saved += dollars
        saved = self._saved.setdefault((series.policy, series.accelerator), [0.0, 0.0])
        saved[0] += gpu_seconds
        saved[1] += dollars

    def describe(self) -> Iterator[Metric]:
        """The families, without samples (for the registry's name index)."""
        families = _Families(as_text=False)
        for name, kind, documentation, full, compact in DEPLOYMENT_FAMILIES:
            labels = full if self.detail == "full" else compact
            if self.detail != "off" and labels is not None:
                families.start(name, kind, documentation, labels)
        for name, kind, documentation, labels in POLICY_FAMILIES:
            families.start(name, kind, documentation, labels)
        return iter(families.metrics)

    def collect(self) -> Iterator[Metric]:
        """The families with their samples (for the registry: tests, ``restricted_registry``)."""
        families = _Families(as_text=False)
        self._render(families)
        return iter(families.metrics)

    def exposition(self) -> str:
        """The families in the text exposition format (what ``/metrics`` serves)."""
        families = _Families(as_text=True)
        self._render(families)
        return "".join(families.text)

    def _render(self, out: _Families) -> None:
        records = list(self._series.values())
        if self.detail == "full":
            self._render_full(out, records)
        elif self.detail == "compact":
            self._render_compact(out, records)
        self._render_policies(out, records)

    @staticmethod
    def _render_full(out: _Families, records: list[DeploymentSeries]) -> None:
        text = out.as_text
        (info, health, status, pods, bounds, running, transition, suspended, gpu, cost) = DEPLOYMENT_FAMILIES
        out.start(*info[:4])
        for s in records:
            policy_text = f',policy="{escape_label_value(s.policy)}",accelerator="{escape_label_value(s.accelerator)}"'
            out.add(s.key_text + policy_text if text else "", [s.name, s.deployment_id, s.policy, s.accelerator], 1.0)
        out.start(*health[:4])
        for s in records:
            for value in HEALTH_VALUES:
                out.add(f'{s.key_text},health="{value}"', [s.name, s.deployment_id, value], float(value == s.health))
        out.start(*status[:4])
        for s in records:
            for value in DEPLOYMENT_STATUSES:
                out.add(f'{s.key_text},status="{value}"', [s.name, s.deployment_id, value], float(value == s.status))
        out.start(*pods[:4])
        for s in records:
            out.add(f'{s.key_text},ready="true"', [s.name, s.deployment_id, "true"], s.pods_ready)
            out.add(f'{s.key_text},ready="false"', [s.name, s.deployment_id, "false"], s.pods_not_ready)
        out.start(*bounds[:4])
        for s in records:
            if s.desired_min is not None and s.desired_max is not None:
                out.add(f'{s.key_text},bound="min"', [s.name, s.deployment_id, "min"], s.desired_min)
                out.add(f'{s.key_text},bound="max"', [s.name, s.deployment_id, "max"], s.desired_max)
        for family, attribute in ((running, "desired_running"), (transition, "next_transition"),
                                  (suspended, "suspended")):
            out.start(*family[:4])
            for s in records:
                out.add(s.key_text, [s.name, s.deployment_id], getattr(s, attribute))
        for family, attribute in ((gpu, "gpu_seconds_saved"), (cost, "cost_saved")):
            out.start(*family[:4])
            for s in records:
                accelerator = f',accelerator="{escape_label_value(s.accelerator)}"' if text else ""
                out.add(s.key_text + accelerator, [s.name, s.deployment_id, s.accelerator], getattr(s, attribute))

    @staticmethod
    def _render_compact(out: _Families, records: list[DeploymentSeries]) -> None:
        # The text is written here without _Families.add: this is what /metrics serves by default.
        text = out.text if out.as_text else None
        escaped = _EscapedValues()
        info, health, status, _pods, _bounds, running, transition, _suspended, gpu, cost = DEPLOYMENT_FAMILIES
        out.start(*info[:4])
        if text is not None:
            name = info[0]
            text.extend(
                f'{name}{{{s.key_text},policy="{escaped[s.policy]}",accelerator="{escaped[s.accelerator]}"}} 1\n'
                for s in records
            )
        else:
            for s in records:
                out.add("", [s.name, s.deployment_id, s.policy, s.accelerator], 1.0)
        for family, attribute in ((health, "health"), (status, "status")):
            out.start(family[0], family[1], family[2], family[4])
            for s in records:
                value = getattr(s, attribute)
                if value is None:
                    continue
                if text is not None:
                    text.append(f'{family[0]}{{{s.id_text},{attribute}="{escaped[value]}"}} 1\n')
                else:
                    out.add("", [s.deployment_id, value], 1.0)
        for family, attribute in ((running, "desired_running"), (transition, "next_transition"),
                                  (gpu, "gpu_seconds_saved"), (cost, "cost_saved")):
            out.start(family[0], family[1], family[2], family[4])
            if text is not None:
                name = family[0]
                text.extend(f"{name}{{{s.id_text}}} {format_sample_value(getattr(s, attribute))}\n" for s in records)
            else:
                for s in records:
                    out.add("", [s.deployment_id], getattr(s, attribute))

    def _render_policies(self, out: _Families, records: list[DeploymentSeries]) -> None:
        counts: dict[tuple[str, str, str, str], int] = {}
        gpus: dict[tuple[str, str], float] = {}
        for s in records:
            key = (s.policy, s.status or "", s.health or "", s.desired)
            counts[key] = counts.get(key, 0) + 1
            pair = (s.policy, s.accelerator)
            gpus[pair] = gpus.get(pair, 0.0) + s.running_gpus
            self._saved.setdefault(pair, [0.0, 0.0])
        deployments, running, gpu, cost = POLICY_FAMILIES
        out.start(*deployments)
        for (policy, status, health, desired), count in sorted(counts.items()):
            label_text = (
                f'policy="{escape_label_value(policy)}",status="{escape_label_value(status)}",'
                f'health="{escape_label_value(health)}",desired="{desired}"'
            ) if out.as_text else ""
            out.add(label_text, [policy, status, health, desired], float(count))
        for family, values in ((running, {pair: held for pair, held in gpus.items()}),
                               (gpu, {pair: saved[0] for pair, saved in self._saved.items()}),
                               (cost, {pair: saved[1] for pair, saved in self._saved.items()})):
            out.start(*family)
            for (policy, accelerator), value in sorted(values.items()):
                label_text = (
                    f'policy="{escape_label_value(policy)}",accelerator="{escape_label_value(accelerator)}"'
                    if out.as_text else ""
                )
                out.add(label_text, [policy, accelerator], value)
