"""Health polling: which deployments' health is fetched, and when, into the store's health tracks.

The polling rule keeps the request rate proportional to what health is used for:

- A DEPLOYED deployment governed by a policy with health rules is polled every health
  interval (``SCALER_HEALTH_INTERVAL_SECONDS``): its rules need the health and since when.
- Any other DEPLOYED deployment is polled every ``SCALER_HEALTH_IDLE_INTERVAL_SECONDS``
  (0: never): its health only feeds ``/status``, the health metrics and their alerts.
  Polls happen at health intervals, so it is polled at the first poll at most half a
  health interval before its idle interval is up: a job starting a few milliseconds
  early then does not put it off by a whole health interval.
- A SCALED_DOWN deployment is not polled: the contract's health of a paused or
  scaled-to-zero deployment is ``SCALED_DOWN``, recorded as observed without a request.
- DEPLOYING, FAILED, DELETING, DELETED and unknown statuses are not polled: the scaler
  does not act on them, and their last tracked health stays as it was.

Tracks keep ``since`` until the value changes (the store does that), which is what the
health rules' ``for`` and ``recover_for`` count from. A poll returns the deployments
whose value changed, so the daemon can reconcile them at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from scaler.daemon.organization import OrganizationState
from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import AuthenticationError, NotFound, SimplismartError
from scaler.simplismart.models import Deployment, DeploymentHealth, DeploymentStatus, HealthStatus, Pods
from scaler.store import HealthTrack, Store

log = structlog.get_logger()

#: Health requests waiting for the client at most (each a coroutine); the client's own concurrency
#: limit decides how many are in flight. Each starts its next request as soon as one ends, so the client's
#: slots stay full until the last request: no batch waits for its slowest request.
POLL_WORKERS = 500


@dataclass
class HealthPoll:
    """The outcome of one poll."""

    tracks: dict[UUID, HealthTrack] = field(default_factory=dict)
    """The updated tracks of the deployments observed."""
    changed: set[UUID] = field(default_factory=set)
    """Deployments whose health value changed (or was observed for the first time)."""
    gone: set[UUID] = field(default_factory=set)
    """Deployments the platform answered 404 for."""
    fetched: int = 0
    """Health requests sent."""


class HealthPoller:
    """Fetches health by the polling rule and records it (see the module's docstring)."""

    def __init__(
        self,
        *,
        client: SimplismartClient,
        store: Store,
        metrics: Metrics,
        organization: OrganizationState,
        idle_interval_seconds: float,
        poll_interval_seconds: float = 0.0,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        """``poll_interval_seconds``: the health interval, the period of :meth:`poll`;
        ``on_progress`` is called after every health request (a long poll is alive)."""
        self._client = client
        self._store = store
        self._metrics = metrics
        self._organization = organization
        self._on_progress = on_progress
        self.idle_interval = timedelta(seconds=idle_interval_seconds) if idle_interval_seconds > 0 else None
        self._idle_due = None
        if self.idle_interval is not None:
            self._idle_due = self.idle_interval - timedelta(seconds=poll_interval_seconds / 2)
        self.last_fetched: dict[UUID, datetime] = {}
        self.pods: dict[UUID, Pods | None] = {}
        """The pods of each deployment's last answer (``None``: not reported)."""
        self.answers: dict[UUID, DeploymentHealth] = {}
        self._tracks: dict[UUID, HealthTrack] = {}
        self._unrecognized: dict[UUID, str] = {}

    def due(
        self, deployments: Iterable[Deployment], watched: Collection[UUID], now: datetime, *, watched_only: bool = False
    ) -> list[Deployment]:
        """Return the deployments whose health is to be fetched at ``now`` (see the polling rule);
        with ``watched_only``, only those governed by health rules."""
        chosen = []
        for deployment in deployments:
            if deployment.status is not DeploymentStatus.DEPLOYED:
                continue
            if deployment.deployment_id in watched:
                chosen.append(deployment)
                continue
            if self._idle_due is None or watched_only:
                continue
            last = self.last_fetched.get(deployment.deployment_id)
            if last is None or now - last >= self._idle_due:
                chosen.append(deployment)
        return chosen

    async def poll(
        self, deployments: Sequence[Deployment], watched: Collection[UUID], now: datetime, *, watched_only: bool = False
    ) -> HealthPoll:
        """Observe the health of ``deployments`` at ``now`` by the polling rule (``watched_only``: only
        those governed by health rules); record and return it.

        Raises :class:`~scaler.store.StoreError` when the observations cannot be recorded.
        """
        result = HealthPoll()
        if self._organization.api_paused:
            return result
        observations: list[tuple[UUID, str, datetime]] = []
        for deployment in deployments:
            if deployment.status is DeploymentStatus.SCALED_DOWN:
                observations.append((deployment.deployment_id, HealthStatus.SCALED_DOWN.value, now))
                self.pods[deployment.deployment_id] = None
        chosen = self.due(deployments, watched, now, watched_only=watched_only)
        due = iter(chosen)

        async def worker() -> None:
            for deployment in due:  # one iterator shared by every worker: each deployment is fetched once
                if self._organization.api_paused:
                    return
                answer = await self._fetch(deployment, now, result)
                if self._on_progress is not None:
                    self._on_progress()
                if answer is not None:
                    observations.append(answer)

        await asyncio.gather(*(worker() for _ in range(min(POLL_WORKERS, len(chosen)))))
        if not observations:
            return result
        previous = {deployment_id: track.value for deployment_id, track in self._tracks.items()}
        tracks = await asyncio.to_thread(self._store.record_health, observations)
        self._tracks.update(tracks)
        result.tracks = tracks
        result.changed = {
            deployment_id for deployment_id, track in tracks.items() if previous.get(deployment_id) != track.value
        }
        return result

    def remember(self, tracks: dict[UUID, HealthTrack]) -> None:
        """Take the tracks read from the store as the last known values (to tell changes apart)."""
        self._tracks.update(tracks)

    def forget(self, deployment_ids: Iterable[UUID]) -> None:
        """Drop what the poller remembers about deployments that are gone."""
        for deployment_id in deployment_ids:
            self.last_fetched.pop(deployment_id, None)
            self.pods.pop(deployment_id, None)
            self.answers.pop(deployment_id, None)
            self._tracks.pop(deployment_id, None)

    async def _fetch(
        self, deployment: Deployment, now: datetime, result: HealthPoll
    ) -> tuple[UUID, str, datetime] | None:
        deployment_id = deployment.deployment_id
        if self._organization.api_paused:
            return None
        try:
            health = await self._client.get_health(deployment_id)
        except AuthenticationError as error:
            self._organization.auth_refused(now, error)
            return None
        except NotFound:
            result.gone.add(deployment_id)
            return None
        except SimplismartError as error:
            log.debug(
                "health_not_observed",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                reason=error.reason,
            )
            return None
        finally:
            result.fetched += 1
        self._organization.auth_accepted(now)
        self.last_fetched[deployment_id] = now
        self.pods[deployment_id] = health.pods
        self.answers[deployment_id] = health
        self._note_unrecognized(deployment, health)
        return deployment_id, health.status.value, now

    def _note_unrecognized(self, deployment: Deployment, health: DeploymentHealth) -> None:
        """Log once a health value this version does not know (no health rule matches it)."""
        deployment_id = deployment.deployment_id
        if health.status is not HealthStatus.UNRECOGNIZED:
            self._unrecognized.pop(deployment_id, None)
            return
        if self._unrecognized.get(deployment_id) != health.status_raw:
            self._unrecognized[deployment_id] = health.status_raw
            log.warning(
                "health_unrecognized",
                deployment=deployment.deployment_name,
                deployment_id=str(deployment_id),
                health=health.status_raw,
                effect="tracked as Unrecognized: no health rule matches it",
            )
