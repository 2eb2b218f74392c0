"""Health rules act only on health observed lately: the calls a health rule asks for (a restart, a
rule's state) wait while the deployment's health was last observed more than ``max_age`` ago.

The platform's recent answers could not be read (or were not asked for, the platform being
unreachable), and the last good one is not taken as still true. The hold is said once per
deployment (``health_action_held``) until its health is read again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import structlog

from scaler.daemon.clock import iso
from scaler.daemon.decide import Decision
from scaler.simplismart.models import Deployment
from scaler.store.records import HealthTrack

log = structlog.get_logger()


class HealthHold:
    """Holds health rules' calls on stale health (see the module's docstring)."""

    def __init__(self, max_age: timedelta) -> None:
        self.max_age = max_age
        self._held: set[UUID] = set()

    @property
    def held(self) -> set[UUID]:
        """The deployments whose health-rule calls wait for a health answer that can be read."""
        return set(self._held)

    def apply(self, deployment: Deployment, decision: Decision, track: HealthTrack | None, now: datetime) -> Decision:
        """``decision`` without the calls a health rule asks for, unless the deployment's health was observed lately."""
        held = [plan for plan in decision.plans if plan.kind == "restart" or plan.source.startswith("health:")]
        deployment_id = deployment.deployment_id
        if not held or (track is not None and now - track.last_observed <= self.max_age):
            self._held.discard(deployment_id)
            return decision
        observed = iso(track.last_observed) if track is not None else None
        if deployment_id not in self._held:
            self._held.add(deployment_id)
            log.warning(
                "health_action_held",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                actions=[step.describe() for plan in held for step in plan.steps],
                rule=held[0].rule,
                health_observed_at=observed,
                effect="waits for a health answer that can be read",
            )
        remaining = tuple(plan for plan in decision.plans if plan not in held)
        return Decision(
            plans=remaining,
            skip=None if remaining else f"health rule {held[0].rule} waits: health last observed at {observed}",
        )
