"""What the platform last listed: the deployments and when, whether it answered, first sightings,
statuses this version does not know, and the status each successful action established since.

:meth:`Inventory.fetch` lists the deployments (outside the cycle's lock). While the platform
refuses the token, only the probe lists (:mod:`scaler.daemon.organization`). A list answered
late can show a deployment running that a boundary has stopped since: the status a later
action established is kept over it (:meth:`Inventory.absorb_statuses`) until a list requested
after that action confirms it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import httpx
import structlog

from scaler.daemon.execution import Execution
from scaler.daemon.organization import OrganizationState
from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.policy import PolicySet, match_key, match_policies
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import AuthenticationError, ConnectionFailed, SimplismartError
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.store import StoreError

log = structlog.get_logger()


class Inventory:
    """The deployments as last listed, and what the daemon noted about them (see the module's docstring)."""

    def __init__(
        self, *, client: SimplismartClient, store: StoreAccess, metrics: Metrics, organization: OrganizationState
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._organization = organization
        self.deployments: dict[UUID, Deployment] = {}
        self.listed_at: datetime | None = None
        self.api_reachable: bool | None = None
        self.list_error: SimplismartError | None = None
        """Why the last list of the deployments failed (``None`` after one that succeeded)."""
        self.first_seen: dict[UUID, datetime] = {}
        self.first_inventory_at: datetime | None = None
        """When the store recorded its first inventory: deployments first seen later are new."""
        self.listed_since_cycle = False
        """Whether a list came in since the last cycle (crash recovery and savings want a fresh one)."""
        self._unknown_statuses: set[tuple[UUID, str]] = set()
        self._status_after_action: dict[UUID, tuple[datetime, DeploymentStatus]] = {}
        """The status each deployment's last successful action established, and when it was answered."""
        self._matching_revision = 0
        """Counts the changes of the listed deployments that can change which policy governs one."""
        self._governed: _Governed | None = None

    async def fetch(self, now: datetime) -> bool:
        """List the deployments at ``now`` and note first sightings; return whether the list succeeded.

        While the platform refuses the token only a due probe lists. Never raises for a
        platform or store failure: it is logged and counted, and the last list stays.
        """
        organization = self._organization
        if organization.api_paused and not organization.auth_probe_due(now):
            return False
        try:
            deployments = await self._client.list_deployments()
        except AuthenticationError as error:
            organization.auth_refused(now, error)
            self.api_reachable = True
            return False
        except SimplismartError as error:
            self.api_reachable = False
            self.list_error = error
            self._metrics.reconcile_errors.inc()
            log.warning(
                "inventory_failed",
                reason=error.reason,
                message=str(error),
                effect="nothing is reconciled until a list succeeds",
            )
            return False
        organization.auth_accepted(now)
        self.api_reachable = True
        self.list_error = None
        try:
            names = [(deployment.deployment_id, deployment.deployment_name) for deployment in deployments]
            seen = await self._store.write("mark_seen", names, now)
            if self.first_inventory_at is None:
                self.first_inventory_at = await self._store.read("first_inventory_at")
        except StoreError:
            return False
        self.first_seen.update(seen)
        listed = self._not_older_than_actions(deployments, requested_at=now)
        if _matching_changed(self.deployments, listed):
            self._matching_revision += 1
        self.deployments = listed
        self.listed_at = now
        self._note_unknown_statuses(deployments)
        self.listed_since_cycle = True
        return True

    def _not_older_than_actions(
        self, deployments: Iterable[Deployment], *, requested_at: datetime
    ) -> dict[UUID, Deployment]:
        """The listed deployments by id, each with the status its last successful action established
        when that action was answered after the list was requested (the list may predate it).

        A list answered late can show a deployment running that a boundary has stopped
        since: taken as the truth, it would be corrected as drift, and the stop sent twice.
        """
        listed: dict[UUID, Deployment] = {}
        for deployment in deployments:
            deployment_id = deployment.deployment_id
            after_action = self._status_after_action.get(deployment_id)
            if after_action is not None and after_action[0] >= requested_at:
                deployment = with_status(deployment, after_action[1])
            else:
                self._status_after_action.pop(deployment_id, None)
            listed[deployment_id] = deployment
        return listed

    def _note_unknown_statuses(self, deployments: Iterable[Deployment]) -> None:
        """Log once each deployment listed with a status this version does not know (it is left alone)."""
        unknown = {
            (deployment.deployment_id, deployment.status_raw): deployment
            for deployment in deployments
            if deployment.status is DeploymentStatus.UNKNOWN
        }
        for (deployment_id, raw), deployment in unknown.items():
            if (deployment_id, raw) not in self._unknown_statuses:
                log.warning(
                    "deployment_status_unknown",
                    deployment=deployment.deployment_name,
                    deployment_id=str(deployment_id),
                    status=raw,
                    effect="left alone until the platform reports a status the scaler knows",
                )
        self._unknown_statuses = set(unknown)

    def names(self) -> dict[UUID, str]:
        """The deployments of the last list, by id."""
        return {key: deployment.deployment_name for key, deployment in self.deployments.items()}

    def governed_by(self, policy_set: PolicySet | None, policy: str) -> list[UUID] | None:
        """The listed deployments ``policy`` governs now; ``None`` when no loaded policy has that name."""
        if policy_set is None or policy_set.policy(policy) is None:
            return None
        return [
            key
            for key, deployment in self.deployments.items()
            if (match := match_policies(policy_set, deployment).policy) is not None and match.name == policy
        ]

    def failure(self, api_url: str) -> str:
        """One line saying why the deployments could not be listed, naming the setting to check."""
        error = self.list_error
        if self._organization.api_paused:
            return "the deployments could not be listed: the platform refuses the token"
        if isinstance(error, ConnectionFailed):
            url = httpx.URL(api_url)
            port = url.port or (443 if url.scheme == "https" else 80)
            return f"cannot connect to {url.host}:{port}: check SCALER_API_URL"
        if error is not None:
            return f"the deployments could not be listed: {error}"
        return "the deployments could not be listed"

    @property
    def revision(self) -> int:
        """Changes whenever the deployments listed change: which ones, their order, or a field that
        policies match on (a status alone does not change it)."""
        return self._matching_revision

    def governed_by_health_rules(self, policy_set: PolicySet | None) -> set[UUID]:
        """The deployments governed by a policy with health rules."""
        return set(self._governance(policy_set).health_rules) if policy_set is not None else set()

    def governed_by_auto_lead(self, policy_set: PolicySet) -> tuple[UUID, ...]:
        """The deployments governed by a policy with a ``lead_time: auto`` window, in the list's order."""
        return self._governance(policy_set).auto_lead

    def _governance(self, policy_set: PolicySet) -> _Governed:
        """Who governs what, matched again only when the policy set or a listed deployment's
        matched fields (or the deployments listed) have changed."""
        governed = self._governed
        if governed is None or governed.policy_set is not policy_set or governed.revision != self._matching_revision:
            health_rules, auto_lead = set(), []
            for deployment_id, deployment in self.deployments.items():
                policy = match_policies(policy_set, deployment).policy
                if policy is not None and policy.health:
                    health_rules.add(deployment_id)
                if policy is not None and policy.has_auto_lead:
                    auto_lead.append(deployment_id)
            governed = _Governed(policy_set, self._matching_revision, frozenset(health_rules), tuple(auto_lead))
            self._governed = governed
        return governed

    def is_new(self, deployment_id: UUID) -> bool:
        """Whether the deployment was first seen after the store's first inventory (it gets a grace period)."""
        first_seen = self.first_seen.get(deployment_id)
        first_inventory = self.first_inventory_at
        return first_seen is not None and first_inventory is not None and first_seen > first_inventory

    def absorb_outcomes(self, execution: Execution, *, answered: datetime, sent_since_listed: bool = True) -> None:
        """Show the status each successful action of ``execution`` (``answered`` at) established until a
        list requested after it confirms it.

        A call sent since the last list whose outcome is unknown (its answer lost) may have
        changed the status: until a list requested after it, the status is unknown and the
        deployment is left alone (a list taken before a start that did go through shows it
        stopped, and a stop due next would be taken as done). Calls a crash interrupted were
        sent before any list of this process (``sent_since_listed`` false).
        """
        statuses = dict(execution.statuses)
        for deployment_id in execution.state_unknown if sent_since_listed else ():
            statuses.setdefault(deployment_id, DeploymentStatus.UNKNOWN)
        for deployment_id, status in statuses.items():
            self._status_after_action[deployment_id] = (answered, status)
            deployment = self.deployments.get(deployment_id)
            if deployment is not None:
                self.deployments[deployment_id] = with_status(deployment, status)

    def forget(self, deployment_id: UUID) -> Deployment | None:
        """Forget a deployment the platform no longer has; return it as last listed (if it was)."""
        self._status_after_action.pop(deployment_id, None)
        self._matching_revision += 1
        return self.deployments.pop(deployment_id, None)


@dataclass(frozen=True)
class _Governed:
    """The deployments governed by policies with health rules and with automatic lead times."""

    policy_set: PolicySet
    revision: int
    health_rules: frozenset[UUID]
    auto_lead: tuple[UUID, ...]


def _matching_changed(before: Mapping[UUID, Deployment], after: Mapping[UUID, Deployment]) -> bool:
    """Whether other deployments are listed, or in another order, or a listed one's fields that policies
    match on changed (an unchanged item of the list is the very same object)."""
    if len(before) != len(after):
        return True
    for (previous_id, previous), (deployment_id, deployment) in zip(before.items(), after.items()):
        if previous is deployment:
            continue
        if previous_id != deployment_id or match_key(previous) != match_key(deployment):
            return True
    return False


def with_status(deployment: Deployment, status: DeploymentStatus) -> Deployment:
    """``deployment`` showing ``status`` (itself when it already does)."""
    if deployment.status is status:
        return deployment
    return deployment.model_copy(update={"status": status, "status_raw": status.value})
