"""What the daemon asks of an elector (:class:`LeaderElector`), and the elector of a SQLite state.

A SQLite state file serves one process: :class:`SingleInstanceElector` is the leader from
``start()`` to ``stop()``. Two instances on one SQLite file are not supported (the Helm
chart refuses ``replicaCount`` > 1 without PostgreSQL).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import structlog

from scaler.metrics import Metrics

log = structlog.get_logger()

Role = Literal["leader", "standby"]
LEADER: Role = "leader"
STANDBY: Role = "standby"


class LeaderElector(ABC):
    """Tells the daemon whether this instance may act now; see the module docstring.

    The daemon calls :meth:`start` inside its event loop, checks :meth:`may_act`
    immediately before every mutating call, and calls :meth:`stop` on shutdown (after
    which :meth:`may_act` is false).
    """

    backend: str

    def __init__(self, *, metrics: Metrics | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._metrics = metrics
        self._clock = clock
        self._role: Role = STANDBY
        self._callbacks: list[Callable[[Role], None]] = []
        self._waiters: list[asyncio.Future[None]] = []
        if metrics is not None:
            metrics.leader.set(0)

    @property
    def role(self) -> Role:
        """``"leader"`` while this instance acts, ``"standby"`` otherwise."""
        return self._role

    @property
    def is_leader(self) -> bool:
        """True while the role is ``"leader"`` (see :meth:`may_act` for the fence itself)."""
        return self._role == LEADER

    @abstractmethod
    def may_act(self) -> bool:
        """Return whether a mutating call may be sent now (the fence; cheap, no I/O)."""

    def on_change(self, callback: Callable[[Role], None]) -> None:
        """Call ``callback(role)`` in the event loop each time the role changes.

        An exception raised by a callback is logged (``leader_callback_failed``) and does
        not disturb the election.
        """
        self._callbacks.append(callback)

    async def wait_until_acting(self) -> bool:
        """Wait while this instance holds the leader lock but is still waiting out its takeover
        delay; return whether it is the leader then (at once when it leads or is a standby)."""
        while self._becoming_leader():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        return self._role == LEADER

    def _becoming_leader(self) -> bool:
        """True while the lock is held but the role is not yet leader (only PostgreSQL has such a state)."""
        return False

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @abstractmethod
    async def start(self) -> None:
        """Take part in the election: the first attempt is made before this returns, then a
        background task keeps campaigning or heartbeating until :meth:`stop`."""

    @abstractmethod
    async def run(self) -> None:
        """Campaign and heartbeat until :meth:`stop` (for callers that manage the task themselves)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop acting at once, release leadership and close the connection (idempotent)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Return the election state as plain data for ``/status``."""

    #: Whether role changes are news to an operator (logged at info or warning); a single
    #: instance with no election logs them at debug only.
    announces_roles = True

    def _set_role(self, role: Role, *, event: str, **fields: Any) -> None:
        if role == self._role:
            return
        self._role = role
        self._wake_waiters()
        if self._metrics is not None:
            self._metrics.leader.set(1 if role == LEADER else 0)
            self._metrics.leadership_changes.labels(change="acquired" if role == LEADER else "lost").inc()
        quiet = role == LEADER or fields.get("reason") == "stopped"
        if not self.announces_roles:
            log.debug(event, backend=self.backend, **fields)
        else:
            (log.info if quiet else log.warning)(event, backend=self.backend, **fields)
        for callback in list(self._callbacks):
            try:
                callback(role)
            except Exception as exc:  # one bad callback must not stop the election
                log.error("leader_callback_failed", callback=repr(callback), error=repr(exc))


class SingleInstanceElector(LeaderElector):
    """The elector of a SQLite state: the only instance, leader from :meth:`start` until :meth:`stop`."""

    backend = "sqlite"
    announces_roles = False

    def __init__(self, *, metrics: Metrics | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(metrics=metrics, clock=clock)
        self._stopped = asyncio.Event()

    def may_act(self) -> bool:
        """True from :meth:`start` until :meth:`stop`."""
        return self._role == LEADER

    async def start(self) -> None:
        """Become the leader at once: a SQLite state has one instance by design."""
        self._stopped.clear()
        self._set_role(LEADER, event="leadership_acquired", reason="single_instance")

    async def run(self) -> None:
        """Be the leader until :meth:`stop`."""
        await self.start()
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop acting (idempotent)."""
        self._set_role(STANDBY, event="leadership_lost", reason="stopped")
        self._stopped.set()

    def describe(self) -> dict[str, Any]:
        """Role and backend; a single instance has no lock."""
        return {"backend": self.backend, "role": self._role, "may_act": self.may_act()}
