"""The engine as the daemon asks it: one deployment's desired state at an instant, from the policies,
the tracked health, the rules' memory, people's exceptions in force and what the inventory knows
(first sighting, new or not, learned lead times).

:meth:`Resolver.resolve` is what a cycle asks (the governing policy matched once, its rules'
memory and exceptions in force found once); :meth:`Resolver.ask` is the engine's answer for
given inputs, which ``/status`` and the notices also use for a deployment's next state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.exceptions_in_force import InForce, in_force
from scaler.daemon.inventory import Inventory
from scaler.daemon.memory import Memory
from scaler.daemon.startups import StartupLearner
from scaler.policy import (
    HealthObservation,
    HealthRuleMemory,
    PolicySet,
    Resolution,
    match_policies,
    resolve_desired_state,
)
from scaler.simplismart.models import Deployment, HealthStatus
from scaler.store import HealthTrack, Suspension

log = structlog.get_logger()


@dataclass(frozen=True)
class Resolved:
    """The engine's answer for one deployment in a cycle, with the inputs found for it."""

    resolution: Resolution
    rules: dict[str, HealthRuleMemory]
    """The rules' memory the answer started from."""
    exceptions: InForce
    """People's exceptions in force for the deployment under its matched policy."""


class Resolver:
    """Asks the engine about deployments (see the module's docstring)."""

    def __init__(
        self,
        *,
        inventory: Inventory,
        startups: StartupLearner,
        overlay: DryRunOverlay,
        new_deployment_grace: timedelta,
    ) -> None:
        self._inventory = inventory
        self._startups = startups
        self._overlay = overlay
        self.new_deployment_grace = new_deployment_grace

    def resolve(
        self,
        policy_set: PolicySet,
        deployment: Deployment,
        memory: Memory,
        now: datetime,
        *,
        rules: Mapping[str, HealthRuleMemory] | None = None,
    ) -> Resolved:
        """The answer for ``deployment`` at ``now`` with ``memory`` (``rules``: this memory instead of the store's)."""
        deployment_id = deployment.deployment_id
        matched = match_policies(policy_set, deployment).policy
        if rules is None:
            rules = self._rules_of(memory, deployment_id, matched.name) if matched is not None else {}
        exceptions = in_force(memory.exceptions, deployment_id, matched.name if matched else None, now)
        resolution = self.ask(
            policy_set, deployment, at=now, track=memory.tracks.get(deployment_id), exceptions=exceptions, rules=rules
        )
        return Resolved(resolution, dict(rules), exceptions)

    def ask(
        self,
        policy_set: PolicySet,
        deployment: Deployment,
        *,
        at: datetime,
        track: HealthTrack | None,
        exceptions: InForce,
        rules: Mapping[str, HealthRuleMemory],
    ) -> Resolution:
        """Ask the engine about ``deployment`` at ``at`` with the tracked health, exceptions in force and
        rules' memory."""
        health = HealthObservation(HealthStatus.parse(track.value), track.since) if track is not None else None
        deployment_id = deployment.deployment_id
        return resolve_desired_state(
            policy_set,
            deployment,
            now=at,
            health=health,
            rule_memory=rules,
            suspended_until=exceptions.suspended_until,
            override=exceptions.engine_override(),
            first_seen=self._inventory.first_seen.get(deployment_id),
            new=self._inventory.is_new(deployment_id),
            default_grace=self.new_deployment_grace,
            lead_times=self._startups.lead_times(policy_set, deployment),
        )

    def _rules_of(self, memory: Memory, deployment_id: UUID, policy: str) -> dict[str, HealthRuleMemory]:
        stored = self._overlay.rules(deployment_id, memory.rules.get(deployment_id, {}))
        rules: dict[str, HealthRuleMemory] = {}
        for (policy_name, rule), value in stored.items():
            if policy_name != policy:
                continue
            try:
                rules[rule] = HealthRuleMemory.from_json(value)
            except (ValueError, TypeError) as error:
                log.warning(
                    "rule_memory_unreadable",
                    deployment_id=str(deployment_id),
                    policy=policy,
                    rule=rule,
                    error=str(error),
                )
        return rules

    def without_suspension(
        self, policy_set: PolicySet, deployment: Deployment, resolved: Resolved, memory: Memory, now: datetime
    ) -> tuple[Resolution, Suspension] | None:
        """For a suspended deployment: what its policy would want now without the suspension, and the
        suspension (to log each boundary it skips); ``None`` when no suspension is shown."""
        exceptions = resolved.exceptions
        suspension = exceptions.suspension_view(deployment.deployment_id, deployment.deployment_name)
        if suspension is None:
            return None
        unsuspended = self.ask(
            policy_set,
            deployment,
            at=now,
            track=memory.tracks.get(deployment.deployment_id),
            exceptions=InForce(covering=exceptions.covering, override=exceptions.override),
            rules=resolved.rules,
        )
        return unsuspended, suspension


def spend_reference(policy_set: PolicySet, resolution: Resolution) -> tuple[int, int] | None:
    """The governing policy's bounds to compare a change with when the applied bounds are unknown."""
    policy = policy_set.policy(resolution.policy) if resolution.policy else None
    return policy.spend_reference if policy is not None else None
