"""One simulated deployment: its hidden state and what the platform reports about it.

The platform reports a status and a health; the simulator keeps what they derive from:
the lifecycle (active, being created, failed, being deleted, deleted), whether the
deployment runs or is paused, its replica bounds, when it last started coming up, a
health set from outside and a scripted health timeline. Time-driven changes (start-up,
deletion, timeline steps) are applied by :meth:`SimDeployment.settle` when the clock is
read for a request, never by a background task.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scaler.sim.constants import (
    DELETED,
    DELETING,
    DEPLOYED,
    DEPLOYING,
    FAILED,
    HEALTH_MESSAGES,
    HEALTH_SCALED_DOWN,
    HEALTHY,
    INITIALIZING,
    MESSAGE_DELETING,
    MESSAGE_FAILED,
    MISSING,
    PROGRESSING,
    SCALED_DOWN,
    UNKNOWN,
)
from scaler.sim.model import DERIVED, HealthAnswer, SeedDeployment, TimelineEntry

# Lifecycles: where a deployment is in its life, independent of running/paused.
ACTIVE = "active"
CREATING = "creating"
LIFECYCLE_FAILED = "failed"
LIFECYCLE_DELETING = "deleting"
LIFECYCLE_DELETED = "deleted"

#: The status a lifecycle reports (``active`` reports DEPLOYED or SCALED_DOWN, see ``status``).
_LIFECYCLE_STATUS = {
    CREATING: DEPLOYING,
    LIFECYCLE_FAILED: FAILED,
    LIFECYCLE_DELETING: DELETING,
    LIFECYCLE_DELETED: DELETED,
}

#: The lifecycle a deployment put in a status starts in (the inverse of ``_LIFECYCLE_STATUS``, with ``active``).
STATUS_LIFECYCLE = {
    DEPLOYED: ACTIVE,
    SCALED_DOWN: ACTIVE,
    DEPLOYING: CREATING,
    FAILED: LIFECYCLE_FAILED,
    DELETING: LIFECYCLE_DELETING,
    DELETED: LIFECYCLE_DELETED,
}

#: The fetch-status answer of a paused or scaled-to-zero deployment, exactly as the contract shows it.
SCALED_DOWN_ANSWER: dict[str, Any] = {
    "data": HEALTH_SCALED_DOWN,
    "messages": [{"message": HEALTH_MESSAGES[HEALTH_SCALED_DOWN][0], "severity": "info"}],
}


@dataclass
class SimDeployment:
    """A deployment of the simulated organization, with the state the platform hides."""

    deployment_id: str
    deployment_name: str
    model_repo_id: str | None
    model_repo_name: str
    model_type: str
    accelerator_type: tuple[str, ...]
    accelerator_count: int
    min_replicas: int
    max_replicas: int
    running: bool
    startup_seconds: float
    delete_seconds: float
    lifecycle: str = ACTIVE
    extra: dict[str, Any] = field(default_factory=dict)
    #: When the current start-up began; ``None`` when it has been up since before the simulation.
    up_since: datetime | None = None
    deleting_since: datetime | None = None
    deleted_at: datetime | None = None
    #: A health set from outside (control API or a timeline step that fell due).
    health: HealthAnswer | None = None
    #: Scripted health steps still to come, as (instant, answer), in time order.
    timeline: list[tuple[datetime, HealthAnswer]] = field(default_factory=list)
    refuse_min_zero: bool = False
    #: Deletion attempts still to fail (injected).
    deletion_failures: int = 0
    failed_deletion_attempts: int = 0
    #: A raw status text reported by the list instead of the derived status (tolerant-parsing tests).
    status_label: str | None = None
    #: The last list item and its JSON text (see :meth:`list_text`).
    _listed: tuple[dict[str, Any], str] | None = field(default=None, repr=False, compare=False)

    # --- What the platform reports ------------------------------------------

    @classmethod
    def from_seed(
        cls, seed: SeedDeployment, now: datetime, *, startup_seconds: float, delete_seconds: float
    ) -> SimDeployment:
        """The deployment ``seed`` describes, as of ``now``; ``startup_seconds`` and ``delete_seconds``
        are the delays it has when the seed gives none."""
        lifecycle = STATUS_LIFECYCLE[seed.status]
        deployment = cls(
            deployment_id=seed.deployment_id,
            deployment_name=seed.deployment_name,
            model_repo_id=seed.model_repo_id,
            model_repo_name=seed.model_repo_name,
            model_type=seed.model_type,
            accelerator_type=seed.accelerator_type,
            accelerator_count=seed.accelerator_count,
            min_replicas=seed.min_replicas,
            max_replicas=seed.max_replicas,
            running=seed.running,
            startup_seconds=startup_seconds if seed.startup_seconds is None else seed.startup_seconds,
            delete_seconds=delete_seconds if seed.delete_seconds is None else seed.delete_seconds,
            lifecycle=lifecycle,
            extra=dict(seed.extra),
            health=seed.health,
            refuse_min_zero=seed.refuse_min_zero,
            deletion_failures=seed.deletion_failures,
        )
        if lifecycle == LIFECYCLE_DELETING:
            deployment.deleting_since = now
        if lifecycle == LIFECYCLE_DELETED:
            deployment.deleted_at = now
        deployment.script(seed.health_timeline, now)
        return deployment

    def script(self, entries: Iterable[TimelineEntry], now: datetime) -> None:
        """Script the health: each entry applies ``after_seconds`` after ``now`` (replaces any script)."""
        self.timeline = [(now + timedelta(seconds=entry.after_seconds), entry.health) for entry in entries]
        self.timeline.sort(key=lambda step: step[0])
        self.settle(now)

    @property
    def is_up(self) -> bool:
        """True when the deployment is active, running and keeps at least one replica."""
        return self.lifecycle == ACTIVE and self.running and self.min_replicas >= 1

    @property
    def status(self) -> str:
        """The documented status derived from the hidden state."""
        if self.lifecycle == ACTIVE:
            return DEPLOYED if self.is_up else SCALED_DOWN
        return _LIFECYCLE_STATUS[self.lifecycle]

    @property
    def held_gpus(self) -> int:
        """GPUs the deployment holds (what the platform bills): ``min_replicas x accelerator_count`` while up
        or being created (its pods are scheduled, not yet ready), else 0."""
        holding = self.is_up or (self.lifecycle == CREATING and self.running and self.min_replicas >= 1)
        return self.min_replicas * self.accelerator_count if holding else 0

    @property
    def ready_at(self) -> datetime | None:
        """When the current start-up completes (``None``: up since before the simulation, or not up)."""
        return self.up_since + timedelta(seconds=self.startup_seconds) if self.up_since is not None else None

    @property
    def accelerator(self) -> str:
        """The accelerator type the deployment's GPUs count against (the first one listed)."""
        return self.accelerator_type[0]

    @property
    def reserved_gpus(self) -> int:
        """GPUs counted against the quota: ``max_replicas x accelerator_count``, 0 once failed or deleting."""
        if self.lifecycle in (LIFECYCLE_FAILED, LIFECYCLE_DELETING, LIFECYCLE_DELETED):
            return 0
        return self.max_replicas * self.accelerator_count

    def list_item(self) -> dict[str, Any]:
        """Return the deployment as the list endpoint shows it."""
        item = {
            "deployment_id": self.deployment_id,
            "deployment_name": self.deployment_name,
            "model_repo_id": self.model_repo_id,
            "model_repo_name": self.model_repo_name,
            "model_type": self.model_type,
            "accelerator_type": list(self.accelerator_type),
            "accelerator_count": self.accelerator_count,
            "status": self.status_label if self.status_label is not None else self.status,
        }
        if self.extra:
            item.update(self.extra)
        return item

    def list_text(self) -> str:
        """:meth:`list_item` as compact JSON text, encoded again only when the item changed (a list of
        thousands of deployments mostly repeats the last one)."""
        item = self.list_item()
        listed = self._listed
        if listed is not None and listed[0] == item:
            return listed[1]
        text = json.dumps(item, separators=(",", ":"))
        self._listed = (item, text)
        return text

    def health_answer(self, now: datetime) -> dict[str, Any]:
        """Return the fetch-status body at ``now`` (call :meth:`settle` first; not for a deleted one)."""
        if self.lifecycle == ACTIVE and not self.is_up:
            return SCALED_DOWN_ANSWER
        if self.health is None:
            return self._derived_answer(now)
        override = self.health
        answer: dict[str, Any] = {"data": override.data}
        if override.messages is DERIVED:
            usual = HEALTH_MESSAGES.get(override.data) if isinstance(override.data, str) else None
            answer["messages"] = [{"message": usual[0], "severity": usual[1]}] if usual else []
        else:
            answer["messages"] = override.messages
        pods = self._derived_pods(now) if override.pods is DERIVED else override.pods
        if pods is not None:
            answer["pods"] = pods
        return answer

    def _derived_answer(self, now: datetime) -> dict[str, Any]:
        if self.lifecycle == LIFECYCLE_DELETING:
            value, message = UNKNOWN, MESSAGE_DELETING
        elif self.lifecycle == LIFECYCLE_FAILED:
            value, message = MISSING, MESSAGE_FAILED
        elif self.lifecycle == CREATING:
            value, message = INITIALIZING, HEALTH_MESSAGES[INITIALIZING][0]
        elif self.starting(now):
            value, message = PROGRESSING, HEALTH_MESSAGES[PROGRESSING][0]
        else:
            value, message = HEALTHY, HEALTH_MESSAGES[HEALTHY][0]
        answer: dict[str, Any] = {"data": value, "messages": [{"message": message, "severity": "info"}]}
        pods = self._derived_pods(now)
        if pods is not None:
            answer["pods"] = pods
        return answer

    def _derived_pods(self, now: datetime) -> dict[str, int] | None:
        wanted = max(self.min_replicas, 1)
        if self.lifecycle == CREATING or (self.is_up and self.starting(now)):
            return {"ready": 0, "not_ready": wanted}
        if self.is_up:
            return {"ready": self.min_replicas, "not_ready": 0}
        return None

    def starting(self, now: datetime) -> bool:
        """True while an up deployment is still within its start-up delay."""
        return self.up_since is not None and now < self.up_since + timedelta(seconds=self.startup_seconds)

    # --- Time ------------------------------------------------------------------

    def settle(self, now: datetime) -> bool:
        """Apply every timed change due by ``now``; return True if the list's view changed."""
        while self.timeline and self.timeline[0][0] <= now:
            _, self.health = self.timeline.pop(0)
        if self.lifecycle == LIFECYCLE_DELETING and self.deleting_since is not None:
            done = self.deleting_since + timedelta(seconds=self.delete_seconds)
            if now >= done:
                self.lifecycle = LIFECYCLE_DELETED
                self.deleted_at = done
                self.running = False
                return True
        return False

    def listed(self, now: datetime, *, deleted_listed_seconds: float) -> bool:
        """True while the list still shows the deployment (a deleted one for a while only)."""
        if self.lifecycle != LIFECYCLE_DELETED or self.deleted_at is None:
            return True
        return now < self.deleted_at + timedelta(seconds=deleted_listed_seconds)

    def next_change(self, *, deleted_listed_seconds: float) -> datetime | None:
        """The next instant at which the list's view of this deployment changes by itself."""
        if self.lifecycle == LIFECYCLE_DELETING and self.deleting_since is not None:
            return self.deleting_since + timedelta(seconds=self.delete_seconds)
        if self.lifecycle == LIFECYCLE_DELETED and self.deleted_at is not None:
            return self.deleted_at + timedelta(seconds=deleted_listed_seconds)
        return None

    def next_timed_change(self, now: datetime, *, deleted_listed_seconds: float) -> datetime | None:
        """The first instant after ``now`` at which this deployment's answers change by themselves
        (its start-up completes, a scripted health step falls due, its deletion finishes, it leaves the list)."""
        first = self.timeline[0][0] if self.timeline and self.timeline[0][0] > now else None
        if self.up_since is not None and self.is_up:  # asked of every deployment often: the plain case first
            ready = self.up_since + timedelta(seconds=self.startup_seconds)
            if ready > now and (first is None or ready < first):
                first = ready
        if self.lifecycle in (LIFECYCLE_DELETING, LIFECYCLE_DELETED):
            listing = self.next_change(deleted_listed_seconds=deleted_listed_seconds)
            if listing is not None and listing > now and (first is None or listing < first):
                first = listing
        return first

    # --- Control view ----------------------------------------------------------

    def describe(self, now: datetime, *, deleted_listed_seconds: float) -> dict[str, Any]:
        """Return the full simulated state (hidden fields included) for the control API."""
        up_at = None
        if self.up_since is not None:
            up_at = self.up_since + timedelta(seconds=self.startup_seconds)
        return {
            **self.list_item(),
            "derived_status": self.status,
            "lifecycle": self.lifecycle,
            "running": self.running,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "startup_seconds": self.startup_seconds,
            "delete_seconds": self.delete_seconds,
            "up_since": _iso(self.up_since),
            "ready_at": _iso(up_at),
            "deleting_since": _iso(self.deleting_since),
            "deleted_at": _iso(self.deleted_at),
            "listed": self.listed(now, deleted_listed_seconds=deleted_listed_seconds),
            "health_override": self.health.to_json() if self.health is not None else None,
            "health_timeline": [{"at": _iso(at), **answer.to_json()} for at, answer in self.timeline],
            "health": None if self.lifecycle == LIFECYCLE_DELETED else self.health_answer(now),
            "reserved_gpus": self.reserved_gpus,
            "refuse_min_zero": self.refuse_min_zero,
            "deletion_failures": self.deletion_failures,
            "failed_deletion_attempts": self.failed_deletion_attempts,
            "status_label": self.status_label,
        }


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None
