"""Which of the simulator's health answers may have changed since the daemon last polled health.

A health tick whose poll would read, from every deployment it polls, the answer of the
last poll, and would poll the same deployments, changes nothing but the instant of the
last observation; the driver then skips it, as it skips a tick when nothing at all has
changed (the last tick before a decision runs all the same). Answers change by a call of
the daemon (the simulator's request log names the deployment), a scripted event, or by
themselves at a timed change (a start-up completing, a deletion finishing).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from scaler.daemon.service import Daemon
from scaler.sim.constants import DELETE, STARTSTOP, UPDATE_REPLICAS
from scaler.sim.state import SimState
from scaler.simplismart.models import DeploymentStatus

#: The endpoints whose calls change what a deployment answers.
CHANGING_ENDPOINTS = frozenset({UPDATE_REPLICAS, STARTSTOP, DELETE})


class _Polled(NamedTuple):
    """What decides which deployments a poll observes."""

    due: frozenset[UUID]
    """The deployments whose health it fetches."""
    scaled_down: frozenset[UUID]
    """The deployments it records as scaled down without a request."""
    polling: tuple[bool, bool, bool | None]
    """Whether the daemon polls at all: not listed yet, paused by the platform, last list failed."""


class HealthChanges:
    """Notes what may have changed the health answers since the last poll (:meth:`to_poll`)."""

    def __init__(self, sim: SimState) -> None:
        self._sim = sim
        self._touched: set[str] = set()
        self._everything = True
        self._logged = sim.requests.total
        self._polled: _Polled | None = None
        self.observed_at: dict[UUID, datetime] = {}
        """When each deployment's health was last read (or recorded as scaled down) by a poll."""

    def touch(self, deployment_id: str | None) -> None:
        """An event changed ``deployment_id``'s answers (``None``: maybe anyone's)."""
        if deployment_id is None:
            self._everything = True
        else:
            self._touched.add(deployment_id)

    def timed(self, after: datetime, until: datetime) -> None:
        """Note the deployments whose answers change by themselves after ``after`` and by ``until``."""
        seconds = self._sim.deleted_listed_seconds
        for deployment in self._sim.deployments.values():
            moment = deployment.next_timed_change(after, deleted_listed_seconds=seconds)
            if moment is not None and moment <= until:
                self._touched.add(deployment.deployment_id)

    def may_differ(self, daemon: Daemon, now: datetime) -> bool:
        """Whether a poll at ``now`` could read another answer, or poll other deployments, than the last one."""
        self._read_calls()
        if self._everything or self._polled is None or self._snapshot(daemon, now) != self._polled:
            return True
        return any(str(deployment_id) in self._touched for deployment_id in self._polled.due)

    def to_poll(self, daemon: Daemon, now: datetime, *, everything: bool = False) -> set[UUID] | None:
        """A poll starts at ``now``: the deployments whose answers it may read differently from the last
        poll, or that it observes for the first time (``None``: every one, as when ``everything``)."""
        self._read_calls()
        snapshot, last = self._snapshot(daemon, now), self._polled
        chosen: set[UUID] | None = None
        if not everything and not self._everything and last is not None and snapshot.polling == last.polling:
            chosen = {deployment_id for deployment_id in snapshot.due if str(deployment_id) in self._touched}
            chosen |= snapshot.due - last.due
            chosen |= snapshot.scaled_down - last.scaled_down
            chosen |= daemon.reconciler.health_held
        self._touched.clear()
        self._everything = False
        self._polled = snapshot
        observed = chosen if chosen is not None else snapshot.due | snapshot.scaled_down
        self.observed_at.update(dict.fromkeys(observed, now))
        return chosen

    def _read_calls(self) -> None:
        """Note the deployments called since the last look (every one when the log no longer holds them all)."""
        log = self._sim.requests
        new, self._logged = log.total - self._logged, log.total
        if new > len(log):
            self._everything = True
            return
        for entry in log.latest(new):
            if entry.endpoint in CHANGING_ENDPOINTS:
                self.touch(entry.deployment_id)

    @staticmethod
    def _snapshot(daemon: Daemon, now: datetime) -> _Polled:
        """What a poll at ``now`` would observe."""
        inventory = daemon.inventory.deployments
        due = daemon.health.due(inventory.values(), daemon.intake.watched(), now)
        return _Polled(
            due=frozenset(deployment.deployment_id for deployment in due),
            scaled_down=frozenset(
                key for key, deployment in inventory.items() if deployment.status is DeploymentStatus.SCALED_DOWN
            ),
            polling=(daemon.inventory.listed_at is None, daemon.organization.api_paused, daemon.inventory.api_reachable),
        )
