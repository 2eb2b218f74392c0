"""The simulated organization: deployments, quotas, wallet, injected faults, request log and clock.

:class:`SimState` is the one mutable object behind a simulator app. The platform
surface (:mod:`scaler.sim.platform`) and the control API (:mod:`scaler.sim.control`)
change it only through the lifecycle methods here, so both keep the same rules:
which changes bring a deployment up (through Progressing), which pause it, which
clear a health set from outside. Timed changes are applied lazily by :meth:`SimState.settle`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from scaler.sim.clock import Clock, system_clock
from scaler.sim.constants import (
    DEFAULT_ORG_ID,
    DEFAULT_TOKEN,
    DELETED,
    DELETING,
    DEPLOYED,
    DEPLOYING,
    FAILED,
    SCALED_DOWN,
)
from scaler.sim.deployment import ACTIVE, CREATING, LIFECYCLE_DELETING, STATUS_LIFECYCLE, SimDeployment
from scaler.sim.faults import Faults
from scaler.sim.ledger import GpuLedger
from scaler.sim.model import HealthAnswer, SeedDeployment, SeedDocument, TimelineEntry
from scaler.sim.requestlog import DEFAULT_REQUEST_LOG_LIMIT, RequestLog

#: Start-up delay of a deployment whose seed gives none, in seconds (a small model's cold start).
DEFAULT_STARTUP_SECONDS = 30.0
#: How long an asynchronous deletion takes when the seed gives no delay, in seconds.
DEFAULT_DELETE_SECONDS = 10.0
#: How long the list keeps showing a deleted deployment as DELETED, in seconds.
DEFAULT_DELETED_LISTED_SECONDS = 600.0

Sleep = Callable[[float], Awaitable[Any]]


class DuplicateDeployment(ValueError):
    """A deployment with this id exists already."""


class SimState:
    """The simulated organization and everything the simulator remembers about it."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        token: str = DEFAULT_TOKEN,
        org_id: str = DEFAULT_ORG_ID,
        startup_seconds: float = DEFAULT_STARTUP_SECONDS,
        delete_seconds: float = DEFAULT_DELETE_SECONDS,
        deleted_listed_seconds: float = DEFAULT_DELETED_LISTED_SECONDS,
        request_log_limit: int = DEFAULT_REQUEST_LOG_LIMIT,
        rng_seed: int = 0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Create an empty organization.

        ``clock`` returns aware UTC datetimes (the system clock by default); ``token`` is
        the only bearer token accepted; ``org_id`` the organization startstop requires
        (a UUID; raises ValueError otherwise). ``startup_seconds`` and ``delete_seconds``
        apply to deployments whose seed gives no delay; a deleted deployment stays listed
        ``deleted_listed_seconds``. ``request_log_limit`` bounds the request log.
        ``sleep`` is awaited for injected latency and slow answers (tests pass a
        recorder); ``rng_seed`` seeds the random draws of jitter and error rates.
        """
        self.clock: Clock = clock or system_clock
        self.token = token
        self.org_id = str(UUID(org_id))
        self.startup_seconds = startup_seconds
        self.delete_seconds = delete_seconds
        self.deleted_listed_seconds = deleted_listed_seconds
        self.rng_seed = rng_seed
        self.rng = random.Random(rng_seed)
        self.sleep = sleep
        self.clock_offset = timedelta()
        self.deployments: dict[str, SimDeployment] = {}
        self.quotas: dict[str, int] = {}
        self.wallet_blocked = False
        self.faults = Faults()
        self.requests = RequestLog(request_log_limit)
        self.ledger = GpuLedger()
        """The GPU-seconds each deployment held (:mod:`scaler.sim.ledger`)."""
        self.revision = 0
        """Grows with every change the list shows (statuses, deployments) or a call made (bounds, starts, stops)."""
        self.seed: SeedDocument = SeedDocument()
        self._list_cache: dict[str | None, bytes] = {}
        # Instants at which a deployment's listing changes by itself (a deletion finishing,
        # a deleted deployment leaving the list), as a heap of (instant, sequence, id).
        self._timers: list[tuple[datetime, int, str]] = []
        self._timer_sequence = itertools.count()

    @classmethod
    def from_seed(
        cls,
        seed: SeedDocument,
        *,
        clock: Clock | None = None,
        token: str | None = None,
        org_id: str | None = None,
        **options: Any,
    ) -> SimState:
        """Return an organization built from ``seed``.

        ``token`` and ``org_id`` win over the seed's own, which win over the defaults;
        ``options`` are the other keyword arguments of :class:`SimState`.
        """
        state = cls(
            clock=clock,
            token=token or seed.token or DEFAULT_TOKEN,
            org_id=org_id or seed.org_id or DEFAULT_ORG_ID,
            **options,
        )
        state.load_seed(seed, keep_identity=True)
        return state

    # --- Time --------------------------------------------------------------------

    def now(self) -> datetime:
        """Return the simulated time: the clock plus every :meth:`advance_clock` so far."""
        return self.clock() + self.clock_offset

    def advance_clock(self, seconds: float) -> datetime:
        """Move simulated time forward by ``seconds`` (>= 0); return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.clock_offset += timedelta(seconds=seconds)
        return self.now()

    def settle(self, now: datetime) -> None:
        """Apply the timed changes the list can see (deletions finishing, deleted ones leaving) due by ``now``.

        Costs nothing when no such change is due, whatever the size of the organization.
        """
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, deployment_id = heapq.heappop(timers)
            deployment = self.deployments.get(deployment_id)
            if deployment is not None:
                deployment.settle(now)
                self._schedule(deployment, after=now)
            self._changed()

    def _changed(self) -> None:
        """Forget the cached list bodies (the list's view of some deployment changed)."""
        self._list_cache.clear()
        self.revision += 1

    def _account(self, deployment: SimDeployment, now: datetime) -> None:
        """Write ``deployment``'s GPUs from ``now`` on into the ledger."""
        ready_at = deployment.ready_at if deployment.is_up else None
        self.ledger.record(deployment.deployment_id, now, deployment.held_gpus, ready_at)

    def next_timed_change(self, now: datetime) -> datetime | None:
        """The first instant after ``now`` at which some deployment's answers change by themselves
        (a start-up completing, a scripted health step, a deletion finishing, a deleted one leaving the list)."""
        candidates = [
            moment
            for deployment in self.deployments.values()
            if (moment := deployment.next_timed_change(now, deleted_listed_seconds=self.deleted_listed_seconds))
            is not None
        ]
        return min(candidates) if candidates else None

    def timing_changed(self, deployment: SimDeployment, now: datetime) -> None:
        """Take note that ``deployment``'s delays changed (its deletion may now finish at another time)."""
        self.settle_one(deployment, now)
        self._schedule(deployment, after=now)
        self._changed()

    def _schedule(self, deployment: SimDeployment, *, after: datetime | None = None) -> None:
        """Remember when ``deployment``'s listing next changes by itself (stale reminders are harmless)."""
        moment = deployment.next_change(deleted_listed_seconds=self.deleted_listed_seconds)
        if moment is not None and (after is None or moment > after):
            heapq.heappush(self._timers, (moment, next(self._timer_sequence), deployment.deployment_id))

    # --- Seeding -----------------------------------------------------------------

    def load_seed(self, seed: SeedDocument, *, keep_identity: bool = False) -> None:
        """Replace the whole organization with ``seed`` (remembered for :meth:`reset`).

        Deployments, quotas and the wallet come from the seed; faults and the request
        log are cleared; timelines start now. The token and organization id follow the
        seed when it names them, unless ``keep_identity`` (used by :meth:`from_seed`).
        """
        self.seed = seed
        if not keep_identity:
            self.token = seed.token or self.token
            self.org_id = str(UUID(seed.org_id or self.org_id))
        self.deployments = {}
        self._timers.clear()
        self._list_cache.clear()
        self.quotas = {name: gpus for name, gpus in seed.quotas.items() if gpus is not None}
        self.wallet_blocked = seed.wallet_blocked
        self.faults.clear()
        self.requests.clear()
        self.ledger = GpuLedger()
        self.rng = random.Random(self.rng_seed)
        self.add_deployments(seed.deployments)

    def reset(self) -> None:
        """Go back to the last seed loaded (deployments, quotas, wallet; faults and log cleared)."""
        self.load_seed(self.seed, keep_identity=True)

    def add_deployments(self, seeds: Iterable[SeedDeployment]) -> list[SimDeployment]:
        """Add deployments described like a seed's; return them.

        Raises :class:`DuplicateDeployment` (adding none of them) when an id is taken.
        """
        now = self.now()
        new = [
            SimDeployment.from_seed(
                seed, now, startup_seconds=self.startup_seconds, delete_seconds=self.delete_seconds
            )
            for seed in seeds
        ]
        seen: set[str] = set()
        for deployment in new:
            if deployment.deployment_id in self.deployments or deployment.deployment_id in seen:
                raise DuplicateDeployment(f"deployment {deployment.deployment_id} exists already")
            seen.add(deployment.deployment_id)
        for deployment in new:
            self.deployments[deployment.deployment_id] = deployment
            self._schedule(deployment)
            self._account(deployment, now)
        self._changed()
        return new

    # --- Lookups -------------------------------------------------------------------

    def get(self, deployment_id: str) -> SimDeployment | None:
        """Return the deployment with this (canonical, lowercase) id, or None."""
        return self.deployments.get(deployment_id)

    def settle_one(self, deployment: SimDeployment, now: datetime) -> None:
        """Apply the timed changes of one deployment due by ``now`` (timeline steps, end of deletion)."""
        if deployment.settle(now):
            self._schedule(deployment, after=now)
            self._changed()

    def list_body(self, now: datetime, model_repo_id: str | None) -> bytes:
        """Return the list endpoint's JSON body at ``now``, filtered by ``model_repo_id`` (canonical) when given."""
        self.settle(now)
        body = self._list_cache.get(model_repo_id)
        if body is None:
            items = [
                deployment.list_text()
                for deployment in self.deployments.values()
                if (model_repo_id is None or deployment.model_repo_id == model_repo_id)
                and deployment.listed(now, deleted_listed_seconds=self.deleted_listed_seconds)
            ]
            body = f"[{','.join(items)}]".encode()  # what json.dumps(list, separators=(",", ":")) writes
            if len(self._list_cache) > 256:
                self._list_cache.clear()
            self._list_cache[model_repo_id] = body
        return body

    def reserved_gpus(self, accelerator: str, *, replacing: SimDeployment | None = None, max_replicas: int = 0) -> int:
        """Return the GPUs of ``accelerator`` counted against its quota.

        With ``replacing``, that deployment counts with ``max_replicas`` instead of its
        current bound (the total an update would leave).
        """
        total = 0
        for deployment in self.deployments.values():
            if deployment.accelerator != accelerator:
                continue
            if deployment is replacing:
                total += max_replicas * deployment.accelerator_count
            else:
                total += deployment.reserved_gpus
        return total

    def quota_view(self) -> dict[str, dict[str, int | None]]:
        """Return ``{accelerator: {"quota": gpus or None, "reserved": gpus}}`` for every type in use or with a quota."""
        types = set(self.quotas) | {deployment.accelerator for deployment in self.deployments.values()}
        return {
            accelerator: {"quota": self.quotas.get(accelerator), "reserved": self.reserved_gpus(accelerator)}
            for accelerator in sorted(types)
        }

    # --- Lifecycle changes (shared by the platform surface and the control API) ----

    def start(self, deployment: SimDeployment, now: datetime) -> None:
        """Resume ``deployment``: it comes up through Progressing unless it is scaled to zero."""
        was_up = deployment.is_up
        if deployment.lifecycle == CREATING:
            deployment.lifecycle = ACTIVE
        deployment.running = True
        if deployment.is_up and not was_up:
            self._coming_up(deployment, now)
        self._account(deployment, now)
        self._changed()

    def stop(self, deployment: SimDeployment, now: datetime) -> None:
        """Pause ``deployment`` at once (SCALED_DOWN); a health set from outside is forgotten."""
        if deployment.running or deployment.lifecycle == CREATING:
            deployment.health = None
        if deployment.lifecycle == CREATING:
            deployment.lifecycle = ACTIVE
        deployment.running = False
        deployment.up_since = None
        self._account(deployment, now)
        self._changed()

    def set_bounds(self, deployment: SimDeployment, min_replicas: int, max_replicas: int, now: datetime) -> None:
        """Apply new replica bounds: min 0 scales a running deployment to zero, min >= 1 brings it back up."""
        was_up = deployment.is_up
        deployment.min_replicas = min_replicas
        deployment.max_replicas = max_replicas
        if deployment.is_up and not was_up:
            self._coming_up(deployment, now)
        elif was_up and not deployment.is_up:
            deployment.health = None
            deployment.up_since = None
        self._account(deployment, now)
        self._changed()

    def begin_deletion(self, deployment: SimDeployment, now: datetime) -> None:
        """Start deleting ``deployment``: DELETING now, DELETED after its deletion delay."""
        deployment.lifecycle = LIFECYCLE_DELETING
        deployment.deleting_since = now
        deployment.running = False
        deployment.up_since = None
        deployment.health = None
        deployment.timeline.clear()
        deployment.settle(now)
        self._schedule(deployment, after=now)
        self._account(deployment, now)
        self._changed()

    def set_status(self, deployment: SimDeployment, status: str, now: datetime) -> None:
        """Put ``deployment`` in ``status`` as a person or the platform would.

        DEPLOYED starts it (through Progressing, min raised to 1 if it was 0), SCALED_DOWN
        pauses it, DEPLOYING/FAILED/DELETED set the lifecycle, DELETING begins a deletion.
        Any other text is only reported by the list in place of the status (the
        simulated behaviour is unchanged), for tolerant-parsing tests.
        """
        deployment.status_label = None
        if status == DEPLOYED:
            deployment.lifecycle = ACTIVE
            deployment.running = True
            deployment.min_replicas = max(deployment.min_replicas, 1)
            deployment.max_replicas = max(deployment.max_replicas, deployment.min_replicas)
            self._coming_up(deployment, now)
        elif status == SCALED_DOWN:
            deployment.lifecycle = ACTIVE
            self.stop(deployment, now)
        elif status == DELETING:
            self.begin_deletion(deployment, now)
        elif status in (DEPLOYING, FAILED, DELETED):
            deployment.lifecycle = STATUS_LIFECYCLE[status]
            deployment.running = status == DEPLOYING
            deployment.up_since = None
            deployment.health = None
            if status == DELETED:
                deployment.deleted_at = now
                deployment.timeline.clear()
                self._schedule(deployment, after=now)
        else:
            deployment.status_label = status
        self._account(deployment, now)
        self._changed()

    def set_health(self, deployment: SimDeployment, health: HealthAnswer | None) -> None:
        """Make fetch-status answer ``health`` (None: back to the health the state implies)."""
        deployment.health = health

    def set_timeline(self, deployment: SimDeployment, entries: Iterable[TimelineEntry], now: datetime) -> None:
        """Script ``deployment``'s health: each entry applies ``after_seconds`` after ``now`` (replaces any script)."""
        deployment.script(entries, now)

    def _coming_up(self, deployment: SimDeployment, now: datetime) -> None:
        deployment.up_since = now
        deployment.health = None
