"""A ceiling on the request rate: requests are spaced at least ``1 / rate`` seconds apart.

A pacing limiter (a token bucket holding a single token) rather than a bucket that
lets a second's worth of requests out at once: the platform publishes no rate limit,
so the polite reading of "at most N per second" is "never more than N in any second".
The clock and the sleep are injectable, so tests control time instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RequestRateLimiter:
    """Hands out permission to send, at most ``rate`` times per second, first come first served."""

    def __init__(self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        """``rate`` is in requests per second, positive (``ValueError`` otherwise); ``math.inf``
        means no limit."""
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next_allowed: float | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait until a request may be sent; return the seconds waited (0.0 when none)."""
        async with self._lock:
            now = self._clock()
            waited = 0.0
            if self._next_allowed is not None and self._next_allowed > now:
                waited = self._next_allowed - now
                await self._sleep(waited)
                now = max(self._clock(), self._next_allowed)
            self._next_allowed = now + self.interval
            return waited
