"""What the reconciler says once, not every cycle: policies that match nothing, conflicts as they
appear and end, and schedule boundaries a suspension skips.

Each class remembers what it last said and logs a change of state only; the reconciler
feeds them what each cycle found. :class:`PolicyCoverage` also owns the gauge
``scaler_policy_matched_deployments``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from uuid import UUID

import structlog

from scaler.daemon.clock import iso
from scaler.metrics import Metrics
from scaler.policy import PolicySet, Resolution
from scaler.policy.matching import matched_counts
from scaler.simplismart.models import Deployment
from scaler.store import Suspension

log = structlog.get_logger()


class PolicyCoverage:
    """How many listed deployments each policy selects; ``policy_matches_nothing`` once per policy set."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._key: tuple[object, ...] | None = None
        self._set_hash: str | None = None
        self._reported: set[str] = set()
        self._names: set[str] = set()

    def observe(self, policy_set: PolicySet, deployments: Collection[Deployment], listed_at: datetime | None) -> None:
        """Count what each policy of ``policy_set`` selects among ``deployments`` (the inventory listed at
        ``listed_at``); counted once per inventory and policy set."""
        key = (policy_set.content_hash, listed_at, len(deployments))
        if key == self._key:
            return
        self._key = key
        if policy_set.content_hash != self._set_hash:
            self._set_hash = policy_set.content_hash
            self._reported = set()
        counts = matched_counts(policy_set, deployments)
        gauge = self._metrics.policy_matched_deployments
        for stale in self._names - counts.keys():
            gauge.remove(stale)
        self._names = set(counts)
        for name, count in counts.items():
            gauge.labels(policy=name).set(count)
            if count == 0 and name not in self._reported:
                self._reported.add(name)
                log.warning(
                    "policy_matches_nothing",
                    policy=name,
                    deployments=len(deployments),
                    content_hash=policy_set.content_hash,
                    effect="the policy governs no deployment: check its match",
                )


class ConflictNotices:
    """``policy_conflict`` once when a deployment's conflict appears (or its policies change), once when it ends."""

    def __init__(self) -> None:
        self._conflicts: dict[UUID, tuple[str, ...]] = {}

    def observe(self, deployment: Deployment, conflict: tuple[str, ...]) -> None:
        """Note the policies ``deployment`` is in conflict between now (empty: none)."""
        deployment_id = deployment.deployment_id
        previous = self._conflicts.get(deployment_id, ())
        if conflict == previous:
            return
        if previous:
            del self._conflicts[deployment_id]
            log.info(
                "policy_conflict",
                state="ended",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                policies=list(previous),
            )
        if conflict:
            self._conflicts[deployment_id] = conflict
            log.warning(
                "policy_conflict",
                state="started",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                policies=list(conflict),
                effect="left alone until one policy has a higher priority or no longer matches",
            )

    def retain(self, deployment_ids: Iterable[UUID]) -> None:
        """Forget the deployments no longer listed."""
        keep = set(deployment_ids)
        for deployment_id in [key for key in self._conflicts if key not in keep]:
            del self._conflicts[deployment_id]


class SkippedTransitions:
    """``transition_skipped`` once for each change of the policy's answer a suspension keeps from happening."""

    def __init__(self) -> None:
        self._last: dict[UUID, tuple[tuple[str | None, str], datetime | None]] = {}

    def observe(self, deployment: Deployment, unsuspended: Resolution, suspension: Suspension) -> None:
        """Note the answer the policy would give ``deployment`` were it not suspended by ``suspension``."""
        deployment_id = deployment.deployment_id
        desired = unsuspended.desired.describe() if unsuspended.desired is not None else None
        answer = (desired, unsuspended.source)
        previous = self._last.get(deployment_id)
        self._last[deployment_id] = (answer, unsuspended.next_change)
        if previous is None or previous[0] == answer:
            return
        log.info(
            "transition_skipped",
            deployment=deployment.deployment_name,
            deployment_id=str(deployment_id),
            policy=unsuspended.policy,
            boundary=iso(previous[1]),
            to=desired or "unchanged",
            source=unsuspended.source,
            reason=f"suspended until {iso(suspension.until)} by {suspension.created_by}: {suspension.reason}",
        )

    def forget(self, deployment_id: UUID) -> None:
        """The deployment is not suspended (any longer): start afresh at its next suspension."""
        self._last.pop(deployment_id, None)
