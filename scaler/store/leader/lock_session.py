"""The PostgreSQL side of leader election: the lock connection, its queries and how it is closed.

:class:`~scaler.store.leader.postgres.PostgresElector` keeps the roles and the timing;
this module holds what it says to the server (connect, take and confirm the advisory
lock, name its holder, bound a silent session) and the ways a lock connection ends.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from scaler.store.leader.timing import LeaderTiming
from scaler.store.postgres import APPLICATION_NAME, DEFAULT_CONNECT_TIMEOUT_SECONDS
from scaler.store.url import PostgresLocation

#: Why leadership ended, as logged in ``leadership_lost``.
LossReason = Literal["heartbeat_failed", "heartbeat_timeout", "lock_not_held", "stopped"]

#: PostgreSQL version from which ``idle_session_timeout`` exists (14).
_IDLE_SESSION_TIMEOUT_SINCE = 140000
#: Seconds a pending query is given to fail once its socket has been shut down.
SEVERED_GRACE_SECONDS = 1.0
#: Longest ``application_name`` the server keeps (NAMEDATALEN - 1).
_APPLICATION_NAME_MAX = 63
#: How the lock connections name themselves, before the instance's identity.
LEADER_APPLICATION_PREFIX = f"{APPLICATION_NAME} leader "


@dataclass(slots=True)
class LockSession:
    """The lock connection while this instance holds the lock."""

    conn: psycopg.AsyncConnection[Any]
    backend_pid: int
    acquired_at: float
    acting_from: float
    last_heartbeat: float  # send instant of the last query that confirmed the lock


class HeartbeatFailed(Exception):
    """A heartbeat did not confirm the lock; ``reason`` is the :data:`LossReason`."""

    def __init__(self, reason: LossReason, detail: str) -> None:
        super().__init__(detail)
        self.reason: LossReason = reason


def connection_params(location: PostgresLocation, timing: LeaderTiming, identity: str) -> dict[str, Any]:
    """The lock connection's parameters: the store's, named for ``identity``, with keepalives bounded by ``timing``."""
    return {
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT_SECONDS,
        **location.params,
        "application_name": f"{LEADER_APPLICATION_PREFIX}{identity}"[:_APPLICATION_NAME_MAX],
        # The client side of the keepalives: notice a vanished server while idle.
        "keepalives": 1,
        "keepalives_idle": timing.keepalive_idle_seconds,
        "keepalives_interval": 1,
        "keepalives_count": timing.keepalive_count,
        # Unacknowledged data (a heartbeat sent to a vanished server) fails after the lease.
        "tcp_user_timeout": math.ceil(timing.lease_seconds * 1000),
    }


async def connect_to_primary(params: dict[str, Any]) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection with ``params``; raise ``psycopg.OperationalError`` on a read-only standby."""
    conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    try:
        row = await (await conn.execute("SELECT pg_is_in_recovery()")).fetchone()
        if row is not None and row[0]:
            raise psycopg.OperationalError(
                "the server is a read-only standby (in recovery); the leader lock must be taken on the primary"
            )
    except BaseException:
        await conn.close()
        raise
    return conn


async def configure_lock_session(conn: psycopg.AsyncConnection[Any], timing: LeaderTiming) -> None:
    """Bound how long the server keeps a silent leader's session (and so the lock)."""
    statements = [
        f"SET statement_timeout = {math.ceil(timing.heartbeat_timeout_seconds * 1000)}",
        f"SET tcp_keepalives_idle = {timing.keepalive_idle_seconds}",
        "SET tcp_keepalives_interval = 1",
        f"SET tcp_keepalives_count = {timing.keepalive_count}",
    ]
    if conn.info.server_version >= _IDLE_SESSION_TIMEOUT_SINCE:
        statements.append(f"SET idle_session_timeout = {math.ceil(timing.lease_seconds * 1000)}")
    for statement in statements:
        await conn.execute(statement)


async def lock_holder(conn: psycopg.AsyncConnection[Any], lock_key: int) -> str | None:
    """The identity of the instance holding the lock, from its application name (or None)."""
    high, low = divmod(lock_key, 1 << 32)
    row = await (
        await conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid",
            (high, low),
        )
    ).fetchone()
    if row is None or not row[0]:
        return None
    name = str(row[0])
    return name.removeprefix(LEADER_APPLICATION_PREFIX)


async def confirm_lock(session: LockSession, lock_key: int) -> None:
    """Raise :class:`HeartbeatFailed` or a psycopg error unless this session's backend holds the lock."""
    high, low = divmod(lock_key, 1 << 32)
    cursor = await session.conn.execute(
        "SELECT pg_backend_pid(), EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
        "AND granted AND pid = pg_backend_pid() AND objsubid = 1 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = %s::bigint::oid AND objid = %s::bigint::oid)",
        (high, low),
    )
    row = await cursor.fetchone()
    if row is None:
        raise HeartbeatFailed("lock_not_held", "the heartbeat returned no row")
    backend_pid, held = row
    if backend_pid != session.backend_pid:
        raise HeartbeatFailed(
            "lock_not_held",
            f"the lock connection now reaches server process {backend_pid}, not {session.backend_pid} "
            "(a transaction-pooling proxy?)",
        )
    if not held:
        raise HeartbeatFailed("lock_not_held", "the lock connection no longer holds the leader lock")


def sever(conn: psycopg.AsyncConnection[Any]) -> None:
    """Shut the connection's socket down, so that a query waiting on it fails at once."""
    with suppress(Exception):
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


async def discard(future: asyncio.Future[Any]) -> None:
    """Wait briefly for ``future`` and drop its outcome; cancel it if it does not end."""
    done, _ = await asyncio.wait({future}, timeout=SEVERED_GRACE_SECONDS)
    if not done:
        future.cancel()
        future.add_done_callback(_consume)
        return
    _consume(future)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    """Close ``conn``, whatever state it is in."""
    with suppress(Exception):
        await conn.close()
