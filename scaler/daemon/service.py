"""The :class:`Daemon`: its parts wired together (:mod:`scaler.daemon.parts`), its jobs
(:mod:`scaler.daemon.jobs`) scheduled and the HTTP app served; one cycle (``run_once``) or the
long-running loop (``run``). What the endpoints show is :mod:`scaler.daemon.status_document`'s.

Start-up: the policy set must load (else :class:`~scaler.policy.PolicyError`); the
first cycle lists the deployments, settles actions a crash left pending, polls health
once and reconciles everything, so a missed transition is caught up at once and no
applied action is repeated. Then the scheduler's jobs run (:mod:`scaler.daemon.scheduler`).

Signals: SIGTERM and SIGINT stop the daemon cleanly: no new action starts, jobs and
calls in flight get :data:`SHUTDOWN_GRACE_SECONDS` to finish (an action cut short stays
pending and is settled by crash recovery at the next start), the HTTP server and the
store are closed, and :meth:`Daemon.run` returns 0 after SIGTERM, 130 after SIGINT
(Ctrl-C, as shells report an interrupted command). SIGHUP reloads the policy files.

High availability: with a PostgreSQL state the replicas elect a leader
(:mod:`scaler.store.leader`); on SQLite the one instance always leads. ``may_act`` (the
elector's fence) is consulted before every mutating call, by the client before every
attempt, and before crash recovery. A standby keeps listing, polling, resolving and
serving ``/status`` and ``/metrics`` but sends nothing, writes no rule memory and counts
no savings. An instance that becomes the leader settles the actions its predecessor left
pending and reconciles everything at once, so a boundary crossed during the failover is
applied once. On shutdown the lock is released after the calls in flight have finished.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import structlog

from scaler import __version__
from scaler.daemon.board import CycleSummary
from scaler.daemon.clock import Clock, SteadyClock, system_clock
from scaler.daemon.execution import always
from scaler.daemon.http import BackgroundServer, create_http_app, listen
from scaler.daemon.jobs import Jobs
from scaler.daemon.parts import Basics, build_notifier, build_parts, build_status
from scaler.daemon.scheduler import DaemonJobs, DaemonScheduler
from scaler.metrics import Metrics
from scaler.daemon.api.keys import KeyRing
from scaler.policy import PolicySet
from scaler.settings import Settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import ClientValidationError
from scaler.simplismart.models import Deployment
from scaler.simplismart.token import TokenSource
from scaler.store import Store, StoreError, open_store
from scaler.store.leader import LEADER, LeaderElector, LeaderTiming, Role, open_elector

log = structlog.get_logger()

#: Seconds jobs and calls in flight get to finish after SIGTERM (the chart gives the pod 30).
SHUTDOWN_GRACE_SECONDS = 25.0
#: What :meth:`Daemon.run` returns after SIGINT (Ctrl-C): 128 + 2, as shells report it.
EXIT_INTERRUPTED = 130


class Daemon(Jobs):
    """The scaler daemon. Build it with :meth:`from_settings` or from its parts (tests)."""

    def __init__(
        self,
        *,
        settings: Settings,
        client: SimplismartClient,
        store: Store,
        metrics: Metrics,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
        token: TokenSource | None = None,
        may_act: Callable[[], bool] = always,
        elector: LeaderElector | None = None,
        policy_paths: Sequence[Path] = (),
    ) -> None:
        """Wire the parts together. ``policy_paths`` replace ``settings.policy_path`` when given
        (``scaler simulate --policies``, repeatable). With an ``elector`` its ``may_act`` is the fence (``may_act``
        is then ignored); the client's ``may_send`` is set to the same fence. ``clock`` is the
        wall clock (wrapped in a :class:`SteadyClock`, which never goes back before what the
        store remembers); ``monotonic`` measures how long ago the last cycle ended
        (liveness), immune to steps of the wall clock."""
        self.settings = settings
        self.client = client
        self.store = store
        self.metrics = metrics
        self.clock = clock if isinstance(clock, SteadyClock) else SteadyClock(clock)
        self.token = token
        self.elector = elector
        if elector is not None:
            may_act = elector.may_act
            elector.on_change(self._leadership_changed)
        self.may_act = may_act
        client.may_send = may_act
        self._restore_clock_floor()
        basics = Basics(settings, client, store, metrics, self.clock, may_act)
        parts = build_parts(basics, policy_paths=policy_paths, on_progress=lambda: self.status.progressed())
        self.store_access, self.organization, self.policies = parts.store_access, parts.organization, parts.policies
        self.executor, self.health, self.startups = parts.executor, parts.health, parts.startups
        self.inventory, self.board, self.intake, self.reconciler = (
            parts.inventory, parts.board, parts.intake, parts.reconciler
        )
        self.status = build_status(
            basics,
            parts,
            elector=elector,
            monotonic=monotonic,
            wakeup_at=lambda: self.scheduler.wakeup_at if self.scheduler is not None else None,
        )
        self.notifier = build_notifier(basics, parts)
        self.keys = KeyRing(settings.api_keys_file)
        self._exceptions_revision: tuple[int, int] | None = None
        self.scheduler: DaemonScheduler | None = None
        self.http: BackgroundServer | None = None
        self._health_polled = False
        self._last_token: str | None = None
        self._stop: asyncio.Event | None = None
        self._exit_code = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        metrics.build_info.info({"version": __version__})

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        metrics: Metrics,
        clock: Clock = system_clock,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Daemon:
        """Build the daemon for ``settings``: token source, API client, state store, leader elector.

        Raises :class:`~scaler.simplismart.errors.ConfigurationError` (no usable token,
        CA bundle), :class:`~scaler.simplismart.errors.ClientValidationError` (no
        SCALER_ORG_ID), or :class:`~scaler.store.StoreError` (the store cannot be opened).
        """
        if settings.org_id is None:
            raise ClientValidationError("SCALER_ORG_ID is not set: start/stop calls need the organization's UUID")
        token = TokenSource.from_settings(settings)
        store = open_store(settings.state_url)
        elector = open_elector(settings.state_url, timing=LeaderTiming.from_settings(settings), metrics=metrics)
        client = SimplismartClient.from_settings(settings, transport=transport, metrics=metrics, token=token)
        return cls(
            settings=settings, client=client, store=store, metrics=metrics, clock=clock, token=token, elector=elector
        )

    def exceptions_changed(self) -> None:
        """An exception was just written through this instance: check at once rather than at the next poll."""
        if self.scheduler is not None:
            self.scheduler.run_now("exceptions")

    def deployment_names(self) -> dict[UUID, str]:
        """The deployments of the last list, by id."""
        return self.inventory.names()

    def governed_by(self, policy: str) -> list[UUID] | None:
        """The listed deployments ``policy`` governs now; ``None`` when no loaded policy has that name."""
        return self.inventory.governed_by(self.policies.current, policy)

    def planning_inputs(self) -> tuple[PolicySet | None, list[Deployment], datetime | None]:
        """The policy set in force, the listed deployments and when they were listed (the console's plans)."""
        return self.policies.current, list(self.inventory.deployments.values()), self.inventory.listed_at

    # --- Running -------------------------------------------------------------------

    async def run_once(self) -> CycleSummary:
        """Run one full cycle (list, recovery, health, reconcile) and return its summary.

        With an elector the instance first takes part in the election: it acts if it wins
        the lock (after the takeover delay), and only watches while another instance leads.
        """
        if self.elector is None:
            return await self.inventory_cycle(reason="once")
        await self.elector.start()
        try:
            await self.elector.wait_until_acting()
            return await self.inventory_cycle(reason="once")
        finally:
            await self.elector.stop()

    def _leadership_changed(self, role: Role) -> None:
        """A new leader settles what its predecessor left pending, then reconciles everything at once."""
        if role != LEADER:
            return
        self.reconciler.recover_pending_actions()
        if self.scheduler is not None:
            self.scheduler.run_now("reconcile")

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop (what SIGTERM and SIGINT do)."""
        self.executor.stopping = True
        if self._stop is not None:
            self._stop.set()

    def interrupt(self) -> None:
        """Stop as :meth:`request_stop` does, and make :meth:`run` return 130 (what SIGINT does)."""
        self._exit_code = EXIT_INTERRUPTED
        self.request_stop()

    def request_reload(self) -> None:
        """Reload the policy files now (what SIGHUP does)."""
        log.info("policy_reload_requested", signal="SIGHUP")
        task = asyncio.get_running_loop().create_task(
            self._guarded("policies", lambda: self.check_policies(force=True))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, name: str, job: Callable[[], Any]) -> Any:
        if self.scheduler is not None:
            return await self.scheduler.run_job(name, job)
        return await job()

    def jobs(self) -> DaemonJobs:
        """The scheduler's jobs, bound to this daemon."""
        return DaemonJobs(
            reconcile=self.inventory_cycle,
            health=self.poll_health,
            boundary=self.wake_up,
            policies=self.check_policies,
            token=self.check_token,
            probe=self.probe,
            exceptions=self.check_exceptions,
            notify=self.notifier.check if self.notifier.enabled else None,
        )

    def build_scheduler(self) -> DaemonScheduler:
        """Create the scheduler and connect the reconciler's next wake-up to it."""
        scheduler = DaemonScheduler(
            self.jobs(),
            metrics=self.metrics,
            reconcile_interval_seconds=self.settings.reconcile_interval_seconds,
            health_interval_seconds=self.settings.health_interval_seconds,
        )
        self.reconciler.listen(on_next_wakeup=scheduler.schedule_wakeup)
        self.scheduler = scheduler
        return scheduler

    async def run(self, *, install_signal_handlers: bool = True, on_ready: Callable[[str], None] | None = None) -> int:
        """Serve HTTP and run the jobs until :meth:`request_stop` (or SIGTERM/SIGINT); return 0, or 130
        when interrupted (SIGINT).

        ``on_ready`` is called with the HTTP server's URL once it listens. Raises
        ``OSError`` when the HTTP address cannot be bound.
        """
        loop = asyncio.get_running_loop()
        listener = listen(self.settings.http_host, self.settings.http_port)
        self._stop = asyncio.Event()
        if self.executor.stopping:
            self._stop.set()
        if install_signal_handlers:
            loop.add_signal_handler(signal.SIGTERM, self.request_stop)
            loop.add_signal_handler(signal.SIGINT, self.interrupt)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        self.http = BackgroundServer(create_http_app(self, self.metrics), listener)
        self.http.start()
        if self.elector is not None:
            await self.elector.start()
        scheduler = self.build_scheduler()
        scheduler.start(system_clock())
        log.info(
            "daemon_started",
            version=__version__,
            http=self.http.url,
            dry_run=self.settings.dry_run,
            allow_delete=self.settings.allow_delete,
            state=self.store.location,
            policies=str(self.settings.policy_path),
            reconcile_interval_seconds=self.settings.reconcile_interval_seconds,
            health_interval_seconds=self.settings.health_interval_seconds,
            webhooks=len(self.settings.webhook_urls),
        )
        if on_ready is not None:
            on_ready(self.http.url)
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(install_signal_handlers)
        return self._exit_code

    async def _shutdown(self, signal_handlers_installed: bool) -> None:
        log.info("daemon_stopping", grace_seconds=SHUTDOWN_GRACE_SECONDS)
        self.executor.stopping = True
        finished = True
        if self.scheduler is not None:
            finished = await self.scheduler.stop(timeout_seconds=SHUTDOWN_GRACE_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        if self.elector is not None:  # after the calls in flight: only now may another instance take over
            await self.elector.stop()
        if self.http is not None:
            await self.http.stop()
        await self.notifier.delivery.aclose()
        await self.client.aclose()
        await asyncio.to_thread(self.store.close)
        if signal_handlers_installed:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        log.info("daemon_stopped", in_flight_finished=finished)

    async def aclose(self) -> None:
        """Close the webhooks' senders, the client and the store (after :meth:`run_once`)."""
        await self.notifier.delivery.aclose()
        await self.client.aclose()
        await asyncio.to_thread(self.store.close)

    # --- What the HTTP endpoints show ------------------------------------------------------

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the loop is alive and cycles keep completing (:meth:`DaemonStatus.liveness`)."""
        return self.status.liveness()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the daemon can do its job (:meth:`DaemonStatus.readiness`)."""
        return self.status.readiness()

    def leadership(self) -> dict[str, Any]:
        """This instance's part in the leader election (:meth:`DaemonStatus.leadership`)."""
        return self.status.leadership()

    async def status_document(self) -> dict[str, Any]:
        """Return the ``/status`` document (:meth:`DaemonStatus.document`)."""
        return await self.status.document()

    async def deployment_documents(self) -> list[dict[str, Any]]:
        """Every deployment as ``/status`` shows it, by name."""
        return await self.status.deployment_documents()

    def running_gpus(self) -> dict[str, int]:
        """GPUs held now by accelerator, from the last cycle's views (as ``scaler_running_gpus``)."""
        return self.board.running_gpus()

    def _restore_clock_floor(self) -> None:
        """Hold the daemon's time at or after the latest instant the store remembers (see SteadyClock)."""
        try:
            latest = self.store.latest_instant()
        except StoreError as error:
            log.warning("clock_floor_unavailable", error=str(error), effect="the daemon follows the wall clock")
            return
        if latest is not None:
            self.clock.raise_floor(latest)
