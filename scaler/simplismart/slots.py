"""The client's request slots: at most N requests in flight, calls that change a deployment served first.

A health poll of thousands of deployments keeps hundreds of reads waiting for a slot; a
stop due at a schedule boundary must not queue behind them. Waiting calls are served
urgent ones first (the mutating calls), then reads, each kind first come first served.
A freed slot is handed straight to the next waiter, so a newcomer never overtakes a
queue, and a waiter cancelled after it was handed a slot gives the slot back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class RequestSlots:
    """At most ``size`` holders at once; urgent waiters before the others."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size!r}")
        self._free = size
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()
        self._holders = {True: _Holder(self, urgent=True), False: _Holder(self, urgent=False)}

    def hold(self, *, urgent: bool) -> _Holder:
        """``async with slots.hold(urgent=...)``: hold a slot for the block (waiting, urgent first, while
        none is free). The holders are made once: a request allocates nothing here unless it waits."""
        return self._holders[urgent]

    async def _acquire(self, urgent: bool) -> None:
        if self._free > 0 and not self._urgent and not self._normal:
            self._free -= 1
            return
        queue = self._urgent if urgent else self._normal
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # it was handed a slot it will not use
            else:
                queue.remove(waiter)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the slot passes to this waiter
                    return
        self._free += 1


class _Holder:
    """The async context manager :meth:`RequestSlots.hold` returns."""

    __slots__ = ("_slots", "_urgent")

    def __init__(self, slots: RequestSlots, *, urgent: bool) -> None:
        self._slots = slots
        self._urgent = urgent

    async def __aenter__(self) -> None:
        await self._slots._acquire(self._urgent)  # noqa: SLF001 - the holder is part of RequestSlots

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._slots._release()  # noqa: SLF001
