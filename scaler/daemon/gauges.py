"""The per-deployment gauges: status, health, pods, desired state, next transition, suspension.

Every series carries ``deployment`` (the name, for people) and ``deployment_id`` (the
key: names need not be unique). One-hot gauges (status, health) set 1 for the current
value and 0 for every other, so each deployment's series exist from its first cycle.
When a deployment leaves the inventory, or its name, policy or accelerator changes,
its old series are removed rather than left to go stale.

Each deployment's labelled children are looked up once and kept: a cycle over ten
thousand deployments then only sets values, it does not look labels up again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client.metrics import MetricWrapperBase

from scaler.daemon.clock import unix_seconds
from scaler.metrics import DEPLOYMENT_STATUSES, HEALTH_VALUES, POD_READINESS, REPLICA_BOUNDS, Metrics
from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment, HealthStatus, Pods


@dataclass(frozen=True)
class _Labels:
    name: str
    deployment_id: str
    policy: str
    accelerator: str


@dataclass
class _Series:
    """One deployment's labelled children, looked up once."""

    labels: _Labels
    status: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    pods: dict[str, Any] = field(default_factory=dict)
    desired_running: Any = None
    next_transition: Any = None
    suspended: Any = None
    bounds: bool = False


def _remove(metric: MetricWrapperBase, *values: str) -> None:
    """Remove one labelled series if it exists."""
    try:
        metric.remove(*values)
    except KeyError:
        pass


def health_label(value: str | None) -> str | None:
    """Return the ``health`` label value for a tracked health text (``Unrecognized`` for unknown text)."""
    if value is None:
        return None
    return HealthStatus.parse(value).value


class DeploymentGauges:
    """Publishes each deployment's gauges and removes those of deployments that are gone."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._series: dict[UUID, _Series] = {}

    def publish(
        self,
        deployment: Deployment,
        *,
        policy: str | None,
        desired: DesiredState | None,
        next_change: datetime | None,
        suspended: bool,
    ) -> None:
        """Set the deployment's info, status, desired state, next transition and suspension."""
        series = self._track(deployment, policy or "")
        for value, child in series.status.items():
            child.set(1 if value == deployment.status.value else 0)
        m = self._metrics
        labels = series.labels
        if desired is not None and desired.kind == "bounds":
            key = (labels.name, labels.deployment_id)
            m.deployment_desired_replicas.labels(*key, "min").set(desired.min_replicas or 0)
            m.deployment_desired_replicas.labels(*key, "max").set(desired.max_replicas or 0)
            series.bounds = True
        elif series.bounds:
            for bound in REPLICA_BOUNDS:
                _remove(m.deployment_desired_replicas, labels.name, labels.deployment_id, bound)
            series.bounds = False
        series.desired_running.set(-1 if desired is None else (1 if desired.is_running else 0))
        series.next_transition.set(unix_seconds(next_change))
        series.suspended.set(1 if suspended else 0)

    def publish_health(self, deployment: Deployment, value: str | None, pods: Pods | None) -> None:
        """Set the one-hot health (all 0 while unknown) and the pod counts (0 when not reported)."""
        series = self._series.get(deployment.deployment_id) or self._track(deployment, "")
        current = health_label(value)
        for health, child in series.health.items():
            child.set(1 if health == current else 0)
        series.pods["true"].set(pods.ready if pods is not None else 0)
        series.pods["false"].set(pods.not_ready if pods is not None else 0)

    def retain(self, deployment_ids: Collection[UUID]) -> None:
        """Remove the series of every deployment not in ``deployment_ids``."""
        for deployment_id in [key for key in self._series if key not in deployment_ids]:
            self._drop(self._series.pop(deployment_id))

    def _track(self, deployment: Deployment, policy: str) -> _Series:
        labels = _Labels(deployment.deployment_name, str(deployment.deployment_id), policy, deployment.accelerator)
        series = self._series.get(deployment.deployment_id)
        if series is not None and series.labels == labels:
            return series
        if series is not None:
            previous = series.labels
            if (previous.name, previous.accelerator) == (labels.name, labels.accelerator):
                _remove(
                    self._metrics.deployment_info,
                    previous.name,
                    previous.deployment_id,
                    previous.policy,
                    previous.accelerator,
                )
                series.labels = labels
                self._metrics.deployment_info.labels(labels.name, labels.deployment_id, policy, labels.accelerator).set(
                    1
                )
                return series
            self._drop(series)
        series = self._create(labels)
        self._series[deployment.deployment_id] = series
        return series

    def _create(self, labels: _Labels) -> _Series:
        m = self._metrics
        key = (labels.name, labels.deployment_id)
        m.deployment_info.labels(*key, labels.policy, labels.accelerator).set(1)
        m.gpu_seconds_saved.labels(*key, labels.accelerator)
        m.cost_saved.labels(*key, labels.accelerator)
        return _Series(
            labels=labels,
            status={status: m.deployment_status.labels(*key, status) for status in DEPLOYMENT_STATUSES},
            health={health: m.deployment_health.labels(*key, health) for health in HEALTH_VALUES},
            pods={ready: m.deployment_pods.labels(*key, ready) for ready in POD_READINESS},
            desired_running=m.deployment_desired_running.labels(*key),
            next_transition=m.deployment_next_transition.labels(*key),
            suspended=m.deployment_suspended.labels(*key),
        )

    def _drop(self, series: _Series) -> None:
        m = self._metrics
        labels = series.labels
        name, key = labels.name, labels.deployment_id
        _remove(m.deployment_info, name, key, labels.policy, labels.accelerator)
        for status in DEPLOYMENT_STATUSES:
            _remove(m.deployment_status, name, key, status)
        for health in HEALTH_VALUES:
            _remove(m.deployment_health, name, key, health)
        for ready in POD_READINESS:
            _remove(m.deployment_pods, name, key, ready)
        for bound in REPLICA_BOUNDS:
            _remove(m.deployment_desired_replicas, name, key, bound)
        for gauge in (m.deployment_desired_running, m.deployment_next_transition, m.deployment_suspended):
            _remove(gauge, name, key)
        for counter in (m.gpu_seconds_saved, m.cost_saved):
            _remove(counter, name, key, labels.accelerator)
