"""The per-deployment gauges: status, health, pods, desired state, next transition, suspension.

Every series carries ``deployment_id`` (the key: names need not be unique), and the name
as ``deployment`` where the detail shows it. In ``full`` detail status and health are
one-hot (1 for the current value, 0 for every other); in ``compact`` only the current
value is shown. The per-policy series are summed from the same values.
When a deployment leaves the inventory, or its name or accelerator changes, its old
series are removed rather than left to go stale (its savings counters start again).

The values live in one :class:`~scaler.metrics.DeploymentSeries` per deployment, which
:class:`~scaler.metrics.DeploymentMetrics` renders at scrape time: a cycle over ten
thousand deployments only sets attributes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from scaler.daemon.clock import unix_seconds
from scaler.metrics import DeploymentSeries, Metrics
from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment, HealthStatus, Pods


def health_label(value: str | None) -> str | None:
    """Return the ``health`` label value for a tracked health text (``Unrecognized`` for unknown text)."""
    if value is None:
        return None
    return HealthStatus.parse(value).value


class DeploymentGauges:
    """Publishes each deployment's gauges and removes those of deployments that are gone."""

    def __init__(self, metrics: Metrics) -> None:
        self._series = metrics.deployments
        self._keys: dict[UUID, str] = {}
        """Each deployment id as text (the series' key), written out once."""

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
        series = self._track(deployment)
        series.policy = policy or ""
        series.status = deployment.status.value
        if desired is not None and desired.kind == "bounds":
            series.desired_min = desired.min_replicas or 0
            series.desired_max = desired.max_replicas or 0
        else:
            series.desired_min = series.desired_max = None
        series.desired_running = -1 if desired is None else (1 if desired.is_running else 0)
        series.next_transition = unix_seconds(next_change)
        series.suspended = 1 if suspended else 0

    def publish_health(self, deployment: Deployment, value: str | None, pods: Pods | None) -> None:
        """Set the one-hot health (all 0 while unknown) and the pod counts (0 when not reported)."""
        series = self._track(deployment)
        series.health = health_label(value)
        series.pods_ready = pods.ready if pods is not None else 0
        series.pods_not_ready = pods.not_ready if pods is not None else 0

    def add_saving(
        self,
        deployment: Deployment,
        *,
        gpu_seconds: float,
        dollars: float | None,
        known: DeploymentSeries | None = None,
    ) -> DeploymentSeries:
        """Count a realized saving of ``deployment`` (``dollars`` ``None``: its cost is unknown); return the
        series it was counted into. ``known``: the series returned for this same ``deployment`` before,
        used while it is still the one tracked (no lookup by id and name)."""
        series = known if known is not None and self._series.get(known.deployment_id) is known else None
        if series is None:
            series = self._track(deployment)
        self._series.add_saving(series, gpu_seconds=gpu_seconds, dollars=dollars or 0.0)
        return series

    def publish_running_gpus(self, deployment: Deployment, gpus: int) -> None:
        """Set the GPUs ``deployment`` holds (summed by policy into ``scaler_policy_running_gpus``)."""
        self._track(deployment).running_gpus = gpus

    def retain(self, deployment_ids: Collection[UUID]) -> None:
        """Remove the series of every deployment not in ``deployment_ids``."""
        keep = {self._keys.get(deployment_id) or str(deployment_id) for deployment_id in deployment_ids}
        for deployment_id in self._series.tracked():
            if deployment_id not in keep:
                self._series.drop(deployment_id)
        for deployment_id in [key for key, text in self._keys.items() if text not in keep]:
            del self._keys[deployment_id]

    def _track(self, deployment: Deployment) -> DeploymentSeries:
        key = self._keys.get(deployment.deployment_id)
        if key is None:
            key = self._keys[deployment.deployment_id] = str(deployment.deployment_id)
        series = self._series.get(key)
        if series is None or (series.name, series.accelerator) != (deployment.deployment_name, deployment.accelerator):
            series = self._series.track(
                DeploymentSeries(
                    deployment.deployment_name, key, series.policy if series is not None else "", deployment.accelerator
                )
            )
        return series
