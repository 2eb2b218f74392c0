"""The gauges of people's exceptions: ``scaler_deployment_override`` per deployment and
``scaler_exceptions_active{kind}``; series of deployments no longer listed are removed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime
from uuid import UUID

from scaler.metrics import EXCEPTION_KINDS, Metrics
from scaler.simplismart.models import Deployment
from scaler.store import ExceptionRecord


class ExceptionGauges:
    """Publishes which deployments an override holds, and how many exceptions are in force."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._labels: dict[UUID, str] = {}

    def publish(self, deployment: Deployment, overridden: bool) -> None:
        """Show the deployment's override gauge (1) while an override decides its state; no series
        otherwise, and none with ``off`` per-deployment detail (each series costs every scrape)."""
        deployment_id = deployment.deployment_id
        previous = self._labels.pop(deployment_id, None)
        if previous is not None:
            self._metrics.deployment_override.remove(previous, str(deployment_id))
        if not overridden or self._metrics.deployments.detail == "off":
            return
        self._labels[deployment_id] = deployment.deployment_name
        self._metrics.deployment_override.labels(
            deployment=deployment.deployment_name, deployment_id=str(deployment_id)
        ).set(1)

    def retain(self, deployment_ids: Collection[UUID]) -> None:
        """Remove the series of every deployment not in ``deployment_ids``."""
        for deployment_id in [key for key in self._labels if key not in deployment_ids]:
            self._metrics.deployment_override.remove(self._labels.pop(deployment_id), str(deployment_id))

    def count(self, exceptions: Iterable[ExceptionRecord], now: datetime) -> None:
        """Set ``scaler_exceptions_active{kind}`` from the exceptions in force at ``now``."""
        counts = Counter(exception.kind for exception in exceptions if exception.active(now))
        for kind in EXCEPTION_KINDS:
            self._metrics.exceptions_active.labels(kind=kind).set(counts.get(kind, 0))
