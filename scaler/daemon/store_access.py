"""The daemon's way to the state store: the blocking store's calls run in a worker thread, and their
failures are counted, logged and remembered here, once (readiness asks :attr:`StoreAccess.healthy`).

Every part of the daemon's core calls the store through a :class:`StoreAccess`; a failed call is
reported (``scaler_reconcile_errors_total``, one error line) before its :class:`~scaler.store.StoreError`
reaches the caller, which then only decides what to do without the answer. A part whose failures
read differently in the logs (the audit's writes, the health just observed) takes a view of the
same access with its own event name (:meth:`StoreAccess.reporting`): the health is shared.
:class:`~scaler.store.ActionNotPending` is an answer (another instance settled the action), not a
failure: it is passed on unreported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from scaler.metrics import Metrics
from scaler.store import ActionNotPending, Store, StoreError

log = structlog.get_logger()

T = TypeVar("T")


@dataclass
class _Health:
    ok: bool = True


class StoreAccess:
    """Calls the store off the event loop and keeps its health (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        event: str = "store_failed",
        fields: dict[str, Any] | None = None,
        health: _Health | None = None,
    ) -> None:
        self.store = store
        self._metrics = metrics
        self._event = event
        self._fields = fields or {}
        self._health = health or _Health()

    @property
    def healthy(self) -> bool:
        """Whether the store answered the last write asked of it (true until one fails)."""
        return self._health.ok

    def reporting(self, event: str, **fields: Any) -> StoreAccess:
        """The same access, its failures logged as ``event`` with ``fields`` added."""
        return StoreAccess(self.store, self._metrics, event=event, fields=fields, health=self._health)

    async def read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Return the store's ``method(*args, **kwargs)``; raises :class:`~scaler.store.StoreError` once reported."""
        return await self.run(method, lambda: getattr(self.store, method)(*args, **kwargs))

    async def write(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`read`, for a call that changes the store: its success makes the store healthy again."""
        return await self.run(method, lambda: getattr(self.store, method)(*args, **kwargs), write=True)

    async def read_quietly(self, method: str, *args: Any) -> Any:
        """As :meth:`read`, for what is only shown (``/status``): a failure is the caller's to say, and
        leaves the store's health and the error count alone."""
        return await asyncio.to_thread(getattr(self.store, method), *args)

    async def run(self, operation: str, function: Callable[[], T], *, write: bool = False) -> T:
        """Run ``function`` (calls of the store) in a worker thread; report its failure as ``operation``."""
        try:
            result = await asyncio.to_thread(function)
        except ActionNotPending:
            raise
        except StoreError as error:
            self.failed(operation, error)
            raise
        if write:
            self._health.ok = True
        return result

    def failed(self, operation: str, error: StoreError) -> None:
        """Report a failed call of the store: count it, log it, and mark the store unhealthy."""
        self._health.ok = False
        self._metrics.reconcile_errors.inc()
        log.error(
            self._event, operation=operation, error=str(error), reason=getattr(error, "reason", None), **self._fields
        )
