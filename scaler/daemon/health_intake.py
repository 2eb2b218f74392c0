"""What a health poll brings in: the health shown on the board, start-ups observed and judged (by the
instance that may act), and the deployments the platform answered 404 for forgotten everywhere.

Nothing is polled while the last list of the deployments failed: the platform is
unreachable, and a health request per deployment, each retried, would only add load to a
platform that is down or recovering. The next successful list resumes it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from uuid import UUID

import structlog

from scaler.daemon.board import Board
from scaler.daemon.clock import Clock, unix_seconds
from scaler.daemon.executor import Executor
from scaler.daemon.health_polling import HealthPoll, HealthPoller
from scaler.daemon.health_hold import HealthHold
from scaler.daemon.inventory import Inventory
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policy_reload import PolicyKeeper
from scaler.daemon.startups import StartupLearner
from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.store import StoreError

log = structlog.get_logger()


class HealthIntake:
    """Takes in health polls and forgets what is gone (see the module's docstring)."""

    def __init__(
        self,
        *,
        store: StoreAccess,
        clock: Clock,
        policies: PolicyKeeper,
        inventory: Inventory,
        board: Board,
        executor: Executor,
        health: HealthPoller,
        startups: StartupLearner,
        metrics: Metrics,
        organization: OrganizationState,
        may_act: Callable[[], bool],
        hold: HealthHold,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policies = policies
        self._inventory = inventory
        self._board = board
        self._executor = executor
        self._health = health
        self._startups = startups
        self._metrics = metrics
        self._organization = organization
        self._may_act = may_act
        self._hold = hold

    def watched(self) -> set[UUID]:
        """The deployments governed by a policy with health rules, and those starting up for a learned
        lead time (their health is polled every interval)."""
        policy_set = self._policies.current
        if policy_set is None:
            return set()
        governed = self._inventory.governed_by_health_rules(policy_set)
        return governed | (self._startups.watching() & self._inventory.deployments.keys())

    async def poll(
        self, now: datetime, *, watched_only: bool, only: Collection[UUID] | None = None
    ) -> set[UUID] | None:
        """Poll health at ``now`` (``watched_only``: only :meth:`watched`; ``only``: only those it names) and
        take the answers in; return the deployments to reconcile (``None``: nothing was polled)."""
        inventory, organization = self._inventory, self._organization
        if inventory.listed_at is None or organization.api_paused:
            return None
        if inventory.api_reachable is False:
            log.info("health_poll_skipped", why="the last list of the deployments failed: the platform is unreachable")
            return None
        started = time.perf_counter()
        deployments = list(inventory.deployments.values())
        if only is not None:
            deployments = [deployment for deployment in deployments if deployment.deployment_id in only]
        try:
            poll = await self._health.poll(deployments, self.watched(), now, watched_only=watched_only)
        except StoreError as error:
            self._store.reporting("health_not_recorded").failed("record_health", error)
            return None
        await self.absorb(poll)
        self._metrics.health_poll_duration.observe(time.perf_counter() - started)
        self._metrics.last_health_poll.set(unix_seconds(self._clock()))
        # Health rules held for want of a readable answer act as soon as one is read.
        return (poll.changed | (self._hold.held & poll.tracks.keys())) & inventory.deployments.keys()

    async def absorb(self, poll: HealthPoll) -> None:
        """Publish the health just observed, and forget the deployments the platform answered 404 for."""
        listed = self._inventory.deployments
        for deployment_id, track in poll.tracks.items():
            deployment = listed.get(deployment_id)
            if deployment is not None:
                self._board.publish_health(deployment, track, self._health.pods.get(deployment_id))
        policy_set = self._policies.current
        if policy_set is not None and self._may_act():
            try:
                await self._startups.observe(poll.tracks, self._health.pods, listed)
            except StoreError as error:
                self._store.failed("record_startup", error)
            auto_lead = self._inventory.governed_by_auto_lead(policy_set)
            views = self._board.views
            tracks = {key: views[key].health for key in auto_lead if key in views}
            self._startups.judge_openings(
                policy_set, [listed[key] for key in auto_lead if key in listed], tracks, self._clock()
            )
        if poll.gone:
            with contextlib.suppress(StoreError):  # reported; the store forgets them at the next 404
                await self._store.run("forget", lambda: self._forget_in_store(poll.gone), write=True)
            self.forget(poll.gone)

    def _forget_in_store(self, deployment_ids: Iterable[UUID]) -> None:
        for deployment_id in deployment_ids:
            self._store.store.forget(deployment_id)

    def forget(self, deployment_ids: Iterable[UUID]) -> None:
        """Forget deployments the platform answered 404 for (the store forgot them already or does now)."""
        gone = set(deployment_ids)
        for deployment_id in gone:
            deployment = self._inventory.forget(deployment_id)
            self._board.forget(deployment_id)
            self._executor.forget(deployment_id)
            log.warning(
                "deployment_gone",
                deployment=deployment.deployment_name if deployment else None,
                deployment_id=str(deployment_id),
                effect="forgotten: the platform no longer has it",
            )
        self._health.forget(gone)
        self._startups.forget(gone)
        self._board.retain_listed()
