"""The :class:`Daemon`: everything wired together, one cycle (``run_once``) or the long-running loop (``run``).

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
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import structlog

from scaler import __version__
from scaler.daemon.board import Board, CycleSummary
from scaler.daemon.clock import Clock, SteadyClock, system_clock, unix_seconds
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.executor import Executor, always
from scaler.daemon.health import HealthPoller
from scaler.daemon.http import BackgroundServer, create_http_app, listen
from scaler.daemon.inventory import Inventory
from scaler.daemon.notify import Delivery, Notifier
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policies import PolicyKeeper
from scaler.daemon.reconciler import Reconciler
from scaler.daemon.resolver import Resolver
from scaler.daemon.scheduler import DaemonJobs, DaemonScheduler
from scaler.daemon.startups import StartupLearner
from scaler.daemon.status_document import DaemonStatus, StatusSources, policy_zones
from scaler.daemon.store_access import StoreAccess
from scaler.logs import cycle_logging
from scaler.metrics import Metrics
from scaler.daemon.api.keys import KeyRing
from scaler.policy import PolicySet, match_policies
from scaler.settings import Settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import ClientValidationError, ConnectionFailed
from scaler.simplismart.models import Deployment
from scaler.simplismart.token import TokenSource
from scaler.store import Store, StoreError, open_store
from scaler.store.leader import LEADER, LeaderElector, LeaderTiming, Role, open_elector

log = structlog.get_logger()

#: Seconds jobs and calls in flight get to finish after SIGTERM (the chart gives the pod 30).
SHUTDOWN_GRACE_SECONDS = 25.0
#: What :meth:`Daemon.run` returns after SIGINT (Ctrl-C): 128 + 2, as shells report it.
EXIT_INTERRUPTED = 130
#: Health rules act on health observed within this many health intervals: one poll may be late or
#: fail without holding them, two in a row mean the deployment's health is unknown.
HEALTH_FRESH_INTERVALS = 2


class Daemon:
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
        self._wire_parts(policy_paths)
        self.status = DaemonStatus(self._status_sources(), monotonic=monotonic)
        self.notifier = self._notifier()
        self.reconciler.listen(on_cycle=self.notifier.note_cycle)
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

    def _wire_parts(self, policy_paths: Sequence[Path]) -> None:
        """Build the inventory, the board, the executor and the reconciler, and what they share."""
        settings, metrics, client, clock, may_act = self.settings, self.metrics, self.client, self.clock, self.may_act
        self.store_access = StoreAccess(self.store, metrics)
        self.organization = OrganizationState(metrics=metrics)
        self.policies = PolicyKeeper(
            list(policy_paths) or [settings.policy_path], metrics=metrics, allow_empty=settings.allow_empty_policies
        )
        overlay = DryRunOverlay(dry_run=settings.dry_run)
        self.executor = Executor(
            client=client,
            store=self.store_access,
            metrics=metrics,
            clock=clock,
            organization=self.organization,
            overlay=overlay,
            max_actions_per_cycle=settings.max_actions_per_cycle,
            may_act=may_act,
        )
        self.health = HealthPoller(
            client=client,
            store=self.store,
            metrics=metrics,
            organization=self.organization,
            idle_interval_seconds=settings.health_idle_interval_seconds,
            poll_interval_seconds=settings.health_interval_seconds,
            on_progress=lambda: self.status.progressed(),
        )
        self.inventory = Inventory(client=client, store=self.store_access, metrics=metrics, organization=self.organization)
        self.startups = StartupLearner(store=self.store, metrics=metrics)
        resolver = Resolver(
            inventory=self.inventory,
            startups=self.startups,
            overlay=overlay,
            new_deployment_grace=timedelta(seconds=settings.new_deployment_grace_seconds),
        )
        self.board = Board(
            metrics=metrics,
            inventory=self.inventory,
            resolver=resolver,
            pods=self.health.pods,
            policies=lambda: self.policies.current,
            waiting_since=self.executor.waiting_since,
        )
        self.reconciler = Reconciler(
            client=client,
            store=self.store_access,
            metrics=metrics,
            clock=clock,
            policies=self.policies,
            executor=self.executor,
            organization=self.organization,
            health=self.health,
            inventory=self.inventory,
            board=self.board,
            resolver=resolver,
            startups=self.startups,
            overlay=overlay,
            allow_delete=settings.allow_delete,
            health_max_age=timedelta(seconds=HEALTH_FRESH_INTERVALS * settings.health_interval_seconds),
            may_act=may_act,
        )

    def _status_sources(self) -> StatusSources:
        return StatusSources(
            settings=self.settings,
            clock=self.clock,
            store=self.store_access,
            policies=self.policies,
            organization=self.organization,
            inventory=self.inventory,
            board=self.board,
            startups=self.startups,
            elector=self.elector,
            may_act=self.may_act,
            wakeup_at=lambda: self.scheduler.wakeup_at if self.scheduler is not None else None,
        )

    def _notifier(self) -> Notifier:
        settings = self.settings
        return Notifier(
            delivery=Delivery(settings.webhook_urls, metrics=self.metrics),
            store=self.store,
            board=self.board,
            organization=self.organization,
            clock=self.clock,
            events=settings.notified_events,
            ahead=timedelta(seconds=settings.notify_ahead_seconds),
            console_url=settings.console_url,
            may_act=self.may_act,
            zone_of=lambda policy: policy_zones(self.policies).get(policy or ""),
        )

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
                    self.board.retain(self.inventory.deployments.keys())
                else:
                    return CycleSummary(reason=reason, at=now, error=self._listing_failure())
                if not self._health_polled:
                    await self.poll_health(now, reconcile=False, watched_only=True)
                subset = only() if only is not None else None
                return await self.reconciler.reconcile(reason=reason, only=subset, complete=subset is not None)
        finally:
            self.status.cycle_ended()

    def _listing_failure(self) -> str:
        """One line saying why the deployments could not be listed, naming the setting to check."""
        error = self.inventory.list_error
        if self.organization.api_paused:
            return "the deployments could not be listed: the platform refuses the token"
        if isinstance(error, ConnectionFailed):
            url = httpx.URL(self.settings.api_url)
            port = url.port or (443 if url.scheme == "https" else 80)
            return f"cannot connect to {url.host}:{port}: check SCALER_API_URL"
        if error is not None:
            return f"the deployments could not be listed: {error}"
        return "the deployments could not be listed"

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
        if self.inventory.listed_at is None or self.organization.api_paused:
            return
        if self.inventory.api_reachable is False:
            log.info("health_poll_skipped", why="the last list of the deployments failed: the platform is unreachable")
            return
        started = time.perf_counter()
        deployments = list(self.inventory.deployments.values())
        if only is not None:
            deployments = [deployment for deployment in deployments if deployment.deployment_id in only]
        try:
            poll = await self.health.poll(deployments, self.watched(), now, watched_only=watched_only)
        except StoreError as error:
            self.store_access.reporting("health_not_recorded").failed("record_health", error)
            return
        await self.reconciler.absorb_health(poll)
        self._health_polled = True
        self.metrics.health_poll_duration.observe(time.perf_counter() - started)
        self.metrics.last_health_poll.set(unix_seconds(self.clock()))
        # Health rules held for want of a readable answer act as soon as one is read.
        changed = (poll.changed | (self.reconciler.health_held & poll.tracks.keys())) & self.inventory.deployments.keys()
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

    def exceptions_changed(self) -> None:
        """An exception was just written through this instance: check at once rather than at the next poll."""
        if self.scheduler is not None:
            self.scheduler.run_now("exceptions")

    def deployment_names(self) -> dict[UUID, str]:
        """The deployments of the last list, by id."""
        return {key: deployment.deployment_name for key, deployment in self.inventory.deployments.items()}

    def governed_by(self, policy: str) -> list[UUID] | None:
        """The listed deployments ``policy`` governs now; ``None`` when no loaded policy has that name."""
        policy_set = self.policies.current
        if policy_set is None or policy_set.policy(policy) is None:
            return None
        return [
            key
            for key, deployment in self.inventory.deployments.items()
            if (match := match_policies(policy_set, deployment).policy) is not None and match.name == policy
        ]

    def planning_inputs(self) -> tuple[PolicySet | None, list[Deployment], datetime | None]:
        """The policy set in force, the listed deployments and when they were listed (the console's plans)."""
        return self.policies.current, list(self.inventory.deployments.values()), self.inventory.listed_at

    def watched(self) -> set[UUID]:
        """The deployments governed by a policy with health rules, and those starting up for a learned
        lead time (their health is polled every interval)."""
        policy_set = self.policies.current
        if policy_set is None:
            return set()
        governed = self.inventory.governed_by_health_rules(policy_set)
        return governed | (self.startups.watching() & self.inventory.deployments.keys())

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
