"""What each of the daemon's scheduled jobs does (:mod:`scaler.daemon.scheduler` runs them): list and
reconcile everything, poll health, wake up at a boundary, check the exceptions, the policy files
and the token file, and probe a refused token.

:class:`Jobs` is the part of :class:`~scaler.daemon.service.Daemon` that holds these bodies;
the daemon builds the parts they use (:mod:`scaler.daemon.parts`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import datetime
from uuid import UUID

import structlog

from scaler.daemon.board import Board, CycleSummary
from scaler.daemon.clock import SteadyClock
from scaler.daemon.health_intake import HealthIntake
from scaler.daemon.inventory import Inventory
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policy_reload import PolicyKeeper
from scaler.daemon.reconciler import Reconciler
from scaler.daemon.status_document import DaemonStatus
from scaler.logs import cycle_logging
from scaler.policy import PolicySet
from scaler.settings import Settings
from scaler.simplismart.token import TokenSource
from scaler.store import Store

log = structlog.get_logger()


class Jobs:
    """The bodies of the daemon's scheduled jobs (see the module's docstring)."""

    settings: Settings
    store: Store
    clock: SteadyClock
    token: TokenSource | None
    organization: OrganizationState
    policies: PolicyKeeper
    inventory: Inventory
    board: Board
    intake: HealthIntake
    reconciler: Reconciler
    status: DaemonStatus
    _health_polled: bool
    _exceptions_revision: tuple[int, int] | None
    _last_token: str | None

    # --- Policies --------------------------------------------------------------------

    def load_policies(self) -> PolicySet:
        """Load the policy set; raises :class:`~scaler.policy.PolicyError` when it is invalid."""
        policy_set = self.policies.load(self.clock())
        log.info(
            "policies_loaded",
            summary=policy_set.summary(),
            content_hash=policy_set.content_hash,
            path=str(self.settings.policy_path),
        )
        return policy_set

    # --- Jobs ------------------------------------------------------------------------

    async def inventory_cycle(
        self, reason: str = "interval", *, only: Callable[[], Collection[UUID] | None] | None = None
    ) -> CycleSummary:
        """List the deployments, reconcile everything; return the summary.

        ``only``, called once the list is in, may name the deployments to reconcile instead
        (``None``: everything), among them every one whose plan waits; the simulation's virtual
        clock uses it.

        The first time, the health of the deployments governed by health rules is polled
        before the reconcile, so that no rule decides without it. The others' health is
        left to the health job: with thousands of deployments and a rate limit, polling them
        all first would hold back every scheduled transition by minutes.
        """
        now = self.clock()
        try:
            with cycle_logging("reconcile"):
                listed = await self.inventory.fetch(now)
                if listed:
                    self.board.retain_listed()
                else:
                    return CycleSummary(reason=reason, at=now, error=self.inventory.failure(self.settings.api_url))
                if not self._health_polled:
                    await self.poll_health(now, reconcile=False, watched_only=True)
                subset = only() if only is not None else None
                return await self.reconciler.reconcile(reason=reason, only=subset, complete=subset is not None)
        finally:
            self.status.cycle_ended()

    async def poll_health(
        self,
        now: datetime | None = None,
        *,
        reconcile: bool = True,
        watched_only: bool = False,
        only: Collection[UUID] | None = None,
    ) -> None:
        """Poll health by the polling rule (``watched_only``: only the deployments governed by
        health rules; ``only``: only those it names, which the simulation's virtual clock uses);
        reconcile the deployments whose health changed.

        Nothing is polled while the last list of the deployments failed: the platform is
        unreachable, and a health request per deployment, each retried, would only add
        load to a platform that is down or recovering. The next successful list resumes it.
        """
        with cycle_logging("health"):
            await self._poll_health(now or self.clock(), reconcile=reconcile, watched_only=watched_only, only=only)

    async def _poll_health(
        self, now: datetime, *, reconcile: bool, watched_only: bool, only: Collection[UUID] | None = None
    ) -> None:
        changed = await self.intake.poll(now, watched_only=watched_only, only=only)
        if changed is None:
            return
        self._health_polled = True
        if reconcile and changed:
            await self.reconciler.reconcile(reason="health", only=changed)

    async def wake_up(self) -> CycleSummary | None:
        """At a boundary: reconcile the deployments whose answer changes now (from the last inventory)."""
        if self.organization.api_paused:
            return None
        with cycle_logging("boundary"):
            return await self.reconciler.reconcile_due(reason="boundary")

    async def check_exceptions(self) -> bool:
        """Reconcile everything at once when an exception was created or ended since the last check (by
        this instance's API, another replica's or the CLI: the store is shared); return whether one was.

        A poll of :meth:`~scaler.store.Store.exceptions_revision` every second (the ``exceptions``
        job) bounds the delay to about a second. The first check only notes the revision: the
        first cycle reads every exception anyway.
        """
        revision = await asyncio.to_thread(self.store.exceptions_revision)
        previous, self._exceptions_revision = self._exceptions_revision, revision
        if previous is None or previous == revision:
            return False
        if self.inventory.listed_at is None or self.organization.api_paused:
            return True
        await self.reconciler.reconcile(reason="exception")
        return True

    async def check_policies(self, *, force: bool = False) -> bool:
        """Reload the policy files if they changed (always when ``force``); reconcile after a new set."""
        now = self.clock()
        changed = await asyncio.to_thread(self.policies.check, now, force=force)
        if changed and self.inventory.listed_at is not None and not self.organization.api_paused:
            with cycle_logging("reconcile"):
                await self.reconciler.reconcile(reason="policy reload")
        return changed

    async def check_token(self) -> None:
        """Re-read the token file; a new token while the token is refused makes the probe due at once."""
        if self.token is None or self.token.path is None:
            return
        current = await asyncio.to_thread(self.token.get)
        changed = self._last_token is not None and current != self._last_token
        self._last_token = current
        if changed and self.organization.api_paused:
            log.info("api_token_changed", effect="probing the platform now")
            self.organization.next_auth_probe = self.clock()
            await self.probe()

    async def probe(self) -> None:
        """Send the token probe when it is due (a list of the deployments, then a full cycle)."""
        if self.organization.auth_probe_due(self.clock()):
            await self.inventory_cycle(reason="probe")
