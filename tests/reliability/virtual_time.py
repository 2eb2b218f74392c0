"""Virtual time for a running asyncio loop: a simulated day passes in seconds, in order, without sleeping.

Inside ``async with VirtualTime(start) as time:`` the running loop's clock is virtual:
whenever every task is waiting for a timer (``asyncio.sleep``, ``asyncio.timeout``,
``call_later``: APScheduler's wake-ups, the client's backoff and rate limiter, the
simulator's latency), the loop jumps straight to the earliest timer instead of waiting
for it. The wall clock (``datetime.now()``, ``time.time()``, through time-machine) moves
with it, so APScheduler, the daemon's clock and the simulator's all read the same
simulated instant. ``jump(seconds)`` moves the wall clock alone, as an NTP step or a VM
resume does: the loop's monotonic clock does not jump, exactly as on a real machine.

Work handed to threads (``asyncio.to_thread``: the store's SQLite calls, the policy
files' checks) runs at once, in the loop's own thread, and takes no virtual time: a run
is then the same from one time to the next, whatever the threads' timing. The loop must
be a selector event loop (the default on Linux).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import time_machine


class VirtualTime:
    """The running loop on virtual time from ``start`` (see the module's docstring)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self.start = start.astimezone(UTC)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._traveller: Any = None
        self._coordinates: Any = None
        self._virtual = 0.0
        self._base = 0.0
        self.jumped = timedelta()
        """The sum of the wall clock's jumps so far (wall = start + elapsed + jumped)."""

    # --- What a test reads and does --------------------------------------------------

    def now(self) -> datetime:
        """The simulated wall clock, as an aware UTC datetime."""
        return self.start + timedelta(seconds=self._virtual) + self.jumped

    @property
    def elapsed(self) -> float:
        """Monotonic seconds since the start (what the loop's clock measures)."""
        return self._virtual

    def monotonic(self) -> float:
        """The loop's virtual monotonic clock, in seconds (for clients that take a ``clock``)."""
        return self._base + self._virtual

    def jump(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (negative: back) without moving the monotonic clock."""
        self.jumped += timedelta(seconds=seconds)
        self._coordinates.shift(timedelta(seconds=seconds))

    async def sleep_for(self, seconds: float) -> None:
        """Let the loop run for ``seconds`` of monotonic time (at once when not positive)."""
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def sleep_until(self, instant: datetime) -> None:
        """Let the loop run until the wall clock shows ``instant`` (at once when it is past)."""
        seconds = (instant - self.now()).total_seconds()
        if seconds > 0:
            await asyncio.sleep(seconds)

    # --- The machinery -------------------------------------------------------------------

    async def __aenter__(self) -> VirtualTime:
        loop = asyncio.get_running_loop()
        selector = getattr(loop, "_selector", None)
        if not isinstance(selector, selectors.BaseSelector):
            raise RuntimeError("virtual time needs a selector event loop")
        self._loop = loop
        self._base = loop.time()
        self._traveller = time_machine.travel(self.start, tick=False)
        self._coordinates = self._traveller.start()
        real_select = selector.select

        def virtual_clock() -> float:
            return self._base + self._virtual

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is None or timeout <= 0:
                return real_select(timeout)
            events = real_select(0)
            if events:
                return events
            self._advance(timeout)
            return []

        def run_in_executor(executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
            future = loop.create_future()
            try:
                future.set_result(func(*args))
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting task, as a thread would
                future.set_exception(error)
            return future

        loop.time = virtual_clock  # type: ignore[method-assign]
        selector.select = select  # type: ignore[method-assign]
        loop.run_in_executor = run_in_executor  # type: ignore[method-assign]
        return self

    def _advance(self, seconds: float) -> None:
        self._virtual += seconds
        self._coordinates.shift(timedelta(seconds=seconds))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = self._loop
        assert loop is not None
        selector = loop._selector  # type: ignore[attr-defined]
        del loop.time  # type: ignore[method-assign]
        del selector.select
        del loop.run_in_executor  # type: ignore[method-assign]
        self._traveller.stop()
