"""The daemon's own state as the HTTP endpoints show it: liveness (``/healthz``), readiness (``/readyz``),
leadership, and the ``/status`` document, read from the inventory, the board and the store.

Liveness is measured on the monotonic clock: a step of the wall clock neither kills a
healthy daemon (forward) nor hides a stuck one (backward). Each deployment's entry is
rendered by :func:`scaler.daemon.status.deployment_status`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from scaler import __version__
from scaler.daemon.board import Board
from scaler.daemon.clock import Clock, iso
from scaler.daemon.inventory import Inventory
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policy_reload import PolicyKeeper
from scaler.daemon.startups import StartupLearner
from scaler.daemon.status import DeploymentView, action_entry, deployment_status
from scaler.daemon.store_access import StoreAccess
from scaler.settings import Settings
from scaler.store import ActionRecord, StoreError
from scaler.store.leader import LEADER, LeaderElector

log = structlog.get_logger()

#: Recent audit records shown by /status.
RECENT_ACTIONS = 50


@dataclass(frozen=True)
class StatusSources:
    """Where the daemon's state is read from."""

    settings: Settings
    clock: Clock
    store: StoreAccess
    policies: PolicyKeeper
    organization: OrganizationState
    inventory: Inventory
    board: Board
    startups: StartupLearner
    elector: LeaderElector | None
    may_act: Callable[[], bool]
    wakeup_at: Callable[[], datetime | None]
    """The scheduler's next wake-up (``None``: none planned, or no scheduler)."""


class DaemonStatus:
    """Liveness, readiness, leadership and the ``/status`` document (see the module's docstring)."""

    def __init__(self, sources: StatusSources, *, monotonic: Callable[[], float]) -> None:
        self._sources = sources
        self._monotonic = monotonic
        self.started_at = sources.clock()
        self._started_monotonic = monotonic()
        self.last_tick: datetime | None = None
        self._last_tick_monotonic: float | None = None
        self._last_progress_monotonic: float | None = None
        """When the last health answer of a poll arrived (a long poll in progress is alive)."""

    def cycle_ended(self) -> None:
        """A cycle of the reconcile job just ended (whatever its outcome)."""
        self.last_tick = self._sources.clock()
        self._last_tick_monotonic = self._monotonic()

    def progressed(self) -> None:
        """A health answer arrived: the loop is alive even while a long poll runs."""
        self._last_progress_monotonic = self._monotonic()

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the loop is alive and cycles keep completing (or a long one keeps getting
        health answers); with the facts behind the answer."""
        limit = 3 * self._sources.settings.reconcile_interval_seconds + 60
        last = self._last_tick_monotonic if self._last_tick_monotonic is not None else self._started_monotonic
        if self._last_progress_monotonic is not None:
            last = max(last, self._last_progress_monotonic)
        ok = self._monotonic() - last <= limit
        return ok, {"last_cycle": iso(self.last_tick), "stale_after_seconds": float(limit)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the daemon can do its job: policies loaded, API reachable and authorized, store writable."""
        sources = self._sources
        policies, organization, healthy = sources.policies.current, sources.organization, sources.store.healthy
        checks = {
            "policies": {
                "ok": policies is not None,
                "detail": policies.summary() if policies is not None else "no policy set loaded",
            },
            "api": self._api_check(),
            "org_id": {
                "ok": not organization.org_refused,
                "detail": (
                    f"the platform refuses SCALER_ORG_ID: {organization.org_message}; starts and stops "
                    "pause (a changed SCALER_ORG_ID takes effect at a restart)"
                    if organization.org_refused
                    else "not refused"
                ),
            },
            "store": {"ok": healthy, "detail": "writable" if healthy else "the last write to the state store failed"},
            # A standby is ready too: it is scraped, and it takes over when the leader goes.
            "leadership": {"ok": True, **self._leadership_summary()},
        }
        return all(check["ok"] for check in checks.values()), checks

    def _api_check(self) -> dict[str, Any]:
        organization = self._sources.organization
        auth = organization.auth_ok
        reachable = self._sources.inventory.api_reachable
        if auth is False:
            detail = f"the platform refuses the token: {organization.auth_message}"
        elif reachable is None:
            detail = "the deployments have not been listed yet"
        elif reachable is False:
            detail = "the last list of the deployments failed"
        else:
            detail = "reachable and authorized"
        return {"ok": auth is not False and reachable is True, "detail": detail}

    def leadership(self) -> dict[str, Any]:
        """This instance's part in the leader election, as ``/status`` shows it."""
        elector, may_act = self._sources.elector, self._sources.may_act
        if elector is None:
            return {"backend": None, "role": LEADER if may_act() else "standby", "may_act": may_act()}
        return elector.describe()

    def _leadership_summary(self) -> dict[str, Any]:
        view = self.leadership()
        role = view["role"]
        if role == LEADER:
            detail = "this instance leads and may act"
            if not view["may_act"]:
                detail = "this instance leads; its lease is being renewed"
        elif view.get("lock_held"):
            detail = f"this instance took the leader lock and acts in {view.get('acting_in_seconds')} s"
        elif view.get("leader"):
            detail = f"standby: {view['leader']} leads"
        else:
            detail = "standby: no leader is known"
        return {"role": role, "detail": detail}

    async def document(self) -> dict[str, Any]:
        """Return the ``/status`` document: the daemon, every deployment, recent actions."""
        try:
            records = await self._sources.store.read_quietly("recent_actions", RECENT_ACTIONS)
            recent = [action_entry(record) for record in records]
        except StoreError as error:
            recent = []
            log.warning("status_recent_actions_unavailable", error=str(error))
        deployments = await self.deployment_documents()
        return {"daemon": self._daemon_facts(), "deployments": deployments, "recent_actions": recent}

    def _daemon_facts(self) -> dict[str, Any]:
        sources = self._sources
        settings, board, clock = sources.settings, sources.board, sources.clock
        summary = board.last_summary
        ready, checks = self.readiness()
        return {
            "version": __version__,
            "now": iso(clock()),
            "started_at": iso(self.started_at),
            "dry_run": settings.dry_run,
            "allow_delete": settings.allow_delete,
            "ready": ready,
            "checks": checks,
            "state_store": {"backend": sources.store.store.backend, "location": sources.store.store.location},
            "leadership": self.leadership(),
            "reconcile_interval_seconds": settings.reconcile_interval_seconds,
            "health_interval_seconds": settings.health_interval_seconds,
            "max_actions_per_cycle": settings.max_actions_per_cycle,
            "policies": sources.policies.view(clock()),
            "organization": sources.organization.view(),
            "last_reconcile": {
                "at": iso(summary.at),
                "reason": summary.reason,
                "ok": summary.ok,
                "error": summary.error,
                "deployments": summary.considered,
                "actions": len([r for r in summary.reports if r.new]),
            }
            if summary is not None
            else None,
            "last_successful_reconcile": iso(board.last_success_at),
            "next_wakeup": iso(sources.wakeup_at()),
            "inventory_listed_at": iso(sources.inventory.listed_at),
        }

    async def deployment_documents(self) -> list[dict[str, Any]]:
        """Every deployment as ``/status`` shows it, by name."""
        sources = self._sources
        views = sorted(
            sources.board.views.values(),
            key=lambda view: (view.deployment.deployment_name, str(view.deployment.deployment_id)),
        )
        recorded = await self._recorded_actions(views)
        zones = policy_zones(sources.policies)
        return [
            {
                **deployment_status(
                    view,
                    sources.board.next_state(view),
                    recorded_action=recorded.get(view.deployment.deployment_id),
                    timezone=zones.get(view.resolution.policy or "") if view.resolution else None,
                ),
                "lead_times": sources.startups.view(sources.policies.current, view.deployment),
            }
            for view in views
        ]

    async def _recorded_actions(self, views: list[DeploymentView]) -> dict[UUID, ActionRecord]:
        """The audit log's newest record per deployment (one query), when some deployment has no
        last action in memory (as after a restart); empty when every one has or the store fails."""
        if all(view.last_action is not None for view in views):
            return {}
        try:
            return await self._sources.store.read_quietly("latest_actions")
        except StoreError as error:
            log.warning("status_last_actions_unavailable", error=str(error))
            return {}


def policy_zones(policies: PolicyKeeper) -> dict[str, str]:
    """Each policy's time zone, by name."""
    policy_set = policies.current
    return {policy.name: policy.timezone for policy in policy_set.policies} if policy_set is not None else {}
