"""Leader election on PostgreSQL: a session advisory lock on a dedicated connection, a heartbeat, a lease.

The instances compete for :data:`~scaler.store.postgres.LEADER_LOCK_KEY` with
``pg_try_advisory_lock`` on an autocommit connection of their own (never the store's).
Advisory locks belong to one database: two installs with their own state databases on
one server never compete, and two installs sharing one database share one leader. The
timing and why it is safe: :mod:`scaler.store.leader.timing`.

Do not put the lock connection behind a transaction-pooling proxy (PgBouncer's
``pool_mode=transaction``): session locks need one server session. The heartbeat notices
a changing server process and steps down, so such an instance would never act for long.
A server in recovery (a read-only replica) is refused: the lock must be taken on the primary.

Events logged: ``leader_election_started``, ``leader_lock_acquired``, ``leadership_acquired``,
``leadership_lost``, ``leader_heartbeat_failed``, ``leader_campaign_failed``,
``leader_lock_released``. No password ever appears.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import psycopg
import structlog

from scaler.logs import register_secret
from scaler.metrics import Metrics
from scaler.store.leader.elector import LEADER, STANDBY, LeaderElector
from scaler.store.leader.lock_session import (
    SEVERED_GRACE_SECONDS,
    HeartbeatFailed,
    LockSession,
    LossReason,
    close_quietly,
    configure_lock_session,
    confirm_lock,
    connect_to_primary,
    connection_params,
    discard,
    lock_holder,
    sever,
)
from scaler.store.leader.timing import LeaderTiming
from scaler.store.postgres import LEADER_LOCK_KEY
from scaler.store.url import PostgresLocation, scrub

log = structlog.get_logger()


class PostgresElector(LeaderElector):
    """Leader election with a PostgreSQL session advisory lock; see the module docstring."""

    backend = "postgresql"

    def __init__(
        self,
        location: PostgresLocation,
        *,
        timing: LeaderTiming,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        identity: str | None = None,
        lock_key: int = LEADER_LOCK_KEY,
    ) -> None:
        super().__init__(metrics=metrics, clock=clock)
        self.timing = timing
        self.location = location.display
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"
        self.lock_key = lock_key
        self._secrets = location.secrets
        self._params = connection_params(location, timing, self.identity)
        self._campaign_conn: psycopg.AsyncConnection[Any] | None = None
        self._session: LockSession | None = None
        self._holder: str | None = None
        self._last_campaign_error: str | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # --- the fence ------------------------------------------------------------

    def may_act(self) -> bool:
        """True only while this instance is the leader, its takeover delay has passed and its
        lease (last confirmed heartbeat + lease) has not run out, by the injected clock."""
        session = self._session
        if session is None or self._role != LEADER or self._stopping:
            return False
        now = self._clock()
        return session.acting_from <= now < session.last_heartbeat + self.timing.lease_seconds

    def _becoming_leader(self) -> bool:
        return self._session is not None and self._role != LEADER and not self._stopping

    @property
    def holds_lock(self) -> bool:
        """True while this instance holds the lock (leader, or waiting out its takeover delay)."""
        return self._session is not None

    @property
    def backend_pid(self) -> int | None:
        """The server process of the lock connection while the lock is held, else ``None``."""
        return self._session.backend_pid if self._session is not None else None

    @property
    def acting_from(self) -> float | None:
        """Clock reading from which this lock holder may act, or ``None`` without the lock."""
        return self._session.acting_from if self._session is not None else None

    @property
    def lease_expires_at(self) -> float | None:
        """Clock reading at which the lease runs out unless renewed, or ``None`` without the lock."""
        session = self._session
        return session.last_heartbeat + self.timing.lease_seconds if session is not None else None

    def describe(self) -> dict[str, Any]:
        """Role, whether it may act, this instance's identity and the leader's, as plain data."""
        session = self._session
        now = self._clock()
        return {
            "backend": self.backend,
            "role": self._role,
            "may_act": self.may_act(),
            "identity": self.identity,
            "leader": self.identity if session is not None else self._holder,
            "lock_held": session is not None,
            "acting_in_seconds": (
                round(max(0.0, session.acting_from - now), 3) if session is not None and self._role != LEADER else None
            ),
        }

    # --- the loop -------------------------------------------------------------

    async def start(self) -> None:
        """Log the timing, make the first attempt, then keep going in a background task."""
        if self._task is not None:
            return
        self._stopping = False
        self._stop_event.clear()
        for secret in self._secrets:
            register_secret(secret)
        log.info(
            "leader_election_started",
            backend=self.backend,
            location=self.location,
            identity=self.identity,
            heartbeat_seconds=self.timing.heartbeat_seconds,
            lease_seconds=self.timing.lease_seconds,
            campaign_seconds=self.timing.campaign_seconds,
            takeover_delay_seconds=self.timing.takeover_delay_seconds,
            failover_bound_seconds=self.timing.failover_bound_seconds,
            dead_host_failover_bound_seconds=self.timing.dead_host_failover_bound_seconds,
        )
        delay = await self.tick()
        self._task = asyncio.create_task(self._loop(delay), name="leader-election")

    async def run(self) -> None:
        """Campaign and heartbeat until :meth:`stop`."""
        await self.start()
        task = self._task
        if task is None:  # stopped during the first attempt
            return
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await self.stop()
            raise

    async def _loop(self, delay: float) -> None:
        while not self._stopping:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), timeout=max(0.0, delay))
            if self._stopping:
                return
            try:
                delay = await self.tick()
            except Exception as exc:  # the election never dies; the next tick tries again
                log.error("leader_election_error", error=self._scrub(exc))
                delay = self.timing.campaign_seconds

    async def tick(self) -> float:
        """Do one step: campaign without the lock, heartbeat with it (and become the leader
        once the takeover delay has passed). Return the seconds until the next step is due."""
        async with self._tick_lock:
            if self._stopping:
                return self.timing.campaign_seconds
            if self._session is None:
                await self._campaign()
            else:
                await self._heartbeat(self._session)
            return self._next_delay()

    def _next_delay(self) -> float:
        session = self._session
        if session is None:
            return self.timing.campaign_seconds
        if self._role != LEADER:
            return max(0.0, min(self.timing.heartbeat_seconds, session.acting_from - self._clock()))
        return self.timing.heartbeat_seconds

    # --- campaigning ------------------------------------------------------------

    async def _campaign(self) -> None:
        try:
            conn = await self._campaign_connection()
            sent = self._clock()
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,))).fetchone()
            received = self._clock()
            if row is None or not row[0]:
                self._holder = await lock_holder(conn, self.lock_key)
                self._campaign_ok()
                return
            backend_pid = conn.info.backend_pid
        except psycopg.Error as exc:
            await self._drop_campaign_connection()
            self._campaign_failed(self._scrub(exc))
            return
        self._campaign_conn = None
        self._campaign_ok()
        session = LockSession(
            conn=conn,
            backend_pid=backend_pid,
            acquired_at=received,
            acting_from=received + self.timing.takeover_delay_seconds,
            last_heartbeat=sent,
        )
        self._session = session
        self._holder = self.identity
        log.info(
            "leader_lock_acquired",
            backend=self.backend,
            identity=self.identity,
            backend_pid=backend_pid,
            takeover_delay_seconds=self.timing.takeover_delay_seconds,
        )
        try:
            await configure_lock_session(conn, self.timing)
        except psycopg.Error as exc:
            await self._lose(session, "heartbeat_failed", self._scrub(exc))

    async def _campaign_connection(self) -> psycopg.AsyncConnection[Any]:
        conn = self._campaign_conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        await self._drop_campaign_connection()
        conn = await connect_to_primary(self._params)
        self._campaign_conn = conn
        return conn

    def _campaign_ok(self) -> None:
        self._last_campaign_error = None

    def _campaign_failed(self, detail: str) -> None:
        if detail != self._last_campaign_error:  # one line per change, not one per campaign
            log.warning("leader_campaign_failed", backend=self.backend, location=self.location, error=detail)
        self._last_campaign_error = detail

    async def _drop_campaign_connection(self) -> None:
        conn, self._campaign_conn = self._campaign_conn, None
        if conn is not None:
            await close_quietly(conn)

    # --- heartbeating -------------------------------------------------------------

    async def _heartbeat(self, session: LockSession) -> None:
        sent = self._clock()
        check = asyncio.ensure_future(confirm_lock(session, self.lock_key))
        done, _ = await asyncio.wait({check}, timeout=self.timing.heartbeat_timeout_seconds)
        if session is not self._session:  # stopped meanwhile
            await discard(check)
            return
        if check not in done:
            await self._lose(
                session,
                "heartbeat_timeout",
                f"no answer within {self.timing.heartbeat_timeout_seconds:g} s",
                pending=check,
            )
            return
        try:
            check.result()
        except HeartbeatFailed as exc:
            await self._lose(session, exc.reason, str(exc))
            return
        except psycopg.Error as exc:
            await self._lose(session, "heartbeat_failed", self._scrub(exc))
            return
        session.last_heartbeat = sent
        if self._role != LEADER and self._clock() >= session.acting_from:
            self._set_role(
                LEADER,
                event="leadership_acquired",
                identity=self.identity,
                backend_pid=session.backend_pid,
                waited_seconds=round(self._clock() - session.acquired_at, 3),
            )

    async def _lose(
        self,
        session: LockSession,
        reason: LossReason,
        detail: str,
        *,
        pending: asyncio.Future[None] | None = None,
    ) -> None:
        """Stop acting at once, then close the lock connection (the server frees the lock)."""
        if session is not self._session:
            return
        self._session = None  # may_act() is false from here on
        self._holder = None
        since_heartbeat = round(self._clock() - session.last_heartbeat, 3)
        log.warning(
            "leader_heartbeat_failed",
            backend=self.backend,
            reason=reason,
            error=detail,
            backend_pid=session.backend_pid,
            since_heartbeat_seconds=since_heartbeat,
        )
        self._wake_waiters()
        if self._role == LEADER:
            self._set_role(
                STANDBY,
                event="leadership_lost",
                reason=reason,
                identity=self.identity,
                since_heartbeat_seconds=since_heartbeat,
            )
        if pending is not None:
            sever(session.conn)
            await discard(pending)
        await close_quietly(session.conn)

    # --- stopping -------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop acting at once, unlock and close the lock connection, end the background task."""
        self._stopping = True
        self._stop_event.set()
        self._wake_waiters()
        session = self._session
        if session is not None:
            self._session = None
            self._holder = None
            if self._role == LEADER:
                self._set_role(STANDBY, event="leadership_lost", reason="stopped", identity=self.identity)
        if self._task is not None:
            task, self._task = self._task, None
            done, _ = await asyncio.wait({task}, timeout=self.timing.heartbeat_timeout_seconds + SEVERED_GRACE_SECONDS)
            if not done:
                task.cancel()
            await discard(task)
        late, self._session = self._session, None  # a campaign that won while stopping
        for held in (session, late):
            if held is not None:
                await self._release(held)
        await self._drop_campaign_connection()

    async def _release(self, session: LockSession) -> None:
        unlock = asyncio.ensure_future(session.conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,)))
        done, _ = await asyncio.wait({unlock}, timeout=self.timing.heartbeat_timeout_seconds)
        if unlock not in done:
            sever(session.conn)
        await discard(unlock)
        await close_quietly(session.conn)
        log.info("leader_lock_released", backend=self.backend, identity=self.identity)

    def _scrub(self, exc: BaseException) -> str:
        return scrub(str(exc).strip() or type(exc).__name__, self._secrets)

