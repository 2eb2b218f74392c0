"""The per-deployment gauges: status, health, pods, desired state, next transition, suspension.

Every series carries ``deployment`` (the name, for people) and ``deployment_id`` (the
key: names need not be unique). One-hot gauges (status, health) set 1 for the current
value and 0 for every other, so each deployment's series exist from its first cycle.
When a deployment leaves the inventory, or its name, policy or accelerator changes,
its old series are removed rather than left to go stale.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from prometheus_client.metrics import MetricWrapperBase

from scaler.daemon.clock import unix_seconds
from scaler.metrics import DEPLOYMENT_STATUSES, HEALTH_VALUES, POD_READINESS, REPLICA_BOUNDS, Metrics, set_one_hot
from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment, HealthStatus, Pods


@dataclass(frozen=True)
class _Labels:
    name: str
    deployment_id: str
    policy: str
    accelerator: str

    @property
    def deployment(self) -> dict[str, str]:
        return {"deployment": self.name, "deployment_id": self.deployment_id}


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
        self._labels: dict[UUID, _Labels] = {}

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
        labels = self._track(deployment, policy or "")
        m = self._metrics
        key = labels.deployment
        m.deployment_info.labels(**key, policy=labels.policy, accelerator=labels.accelerator).set(1)
        set_one_hot(m.deployment_status, key, "status", deployment.status.value, DEPLOYMENT_STATUSES)
        if desired is not None and desired.kind == "bounds":
            m.deployment_desired_replicas.labels(**key, bound="min").set(desired.min_replicas or 0)
            m.deployment_desired_replicas.labels(**key, bound="max").set(desired.max_replicas or 0)
        else:
            for bound in REPLICA_BOUNDS:
                _remove(m.deployment_desired_replicas, labels.name, labels.deployment_id, bound)
        running = -1 if desired is None else (1 if desired.is_running else 0)
        m.deployment_desired_running.labels(**key).set(running)
        m.deployment_next_transition.labels(**key).set(unix_seconds(next_change))
        m.deployment_suspended.labels(**key).set(1 if suspended else 0)
        m.gpu_seconds_saved.labels(**key, accelerator=labels.accelerator)
        m.cost_saved.labels(**key, accelerator=labels.accelerator)

    def publish_health(self, deployment: Deployment, value: str | None, pods: Pods | None) -> None:
        """Set the one-hot health (all 0 while unknown) and the pod counts (0 when not reported)."""
        labels = self._labels.get(deployment.deployment_id) or self._track(deployment, "")
        key = labels.deployment
        set_one_hot(self._metrics.deployment_health, key, "health", health_label(value) or "", HEALTH_VALUES)
        counts = (pods.ready, pods.not_ready) if pods is not None else (0, 0)
        for ready, count in zip(POD_READINESS, counts, strict=True):
            self._metrics.deployment_pods.labels(**key, ready=ready).set(count)

    def retain(self, deployment_ids: Collection[UUID]) -> None:
        """Remove the series of every deployment not in ``deployment_ids``."""
        for deployment_id in [key for key in self._labels if key not in deployment_ids]:
            self._drop(self._labels.pop(deployment_id))

    def _track(self, deployment: Deployment, policy: str) -> _Labels:
        labels = _Labels(deployment.deployment_name, str(deployment.deployment_id), policy, deployment.accelerator)
        previous = self._labels.get(deployment.deployment_id)
        if previous is not None and previous != labels:
            if (previous.name, previous.accelerator) != (labels.name, labels.accelerator):
                self._drop(previous)
            else:
                _remove(
                    self._metrics.deployment_info,
                    previous.name,
                    previous.deployment_id,
                    previous.policy,
                    previous.accelerator,
                )
        self._labels[deployment.deployment_id] = labels
        return labels

    def _drop(self, labels: _Labels) -> None:
        m = self._metrics
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
