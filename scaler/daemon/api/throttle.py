"""Failed key attempts per client address: ten within a minute answer 429 for the rest of that minute."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

#: Failed attempts from one address within :data:`WINDOW_SECONDS` that close it.
MAX_FAILURES = 10
WINDOW_SECONDS = 60.0
#: Addresses remembered at most (the oldest are forgotten first): bounded memory under a flood.
MAX_ADDRESSES = 10_000


class FailureThrottle:
    """Counts wrong keys per address on a monotonic clock (injectable for tests)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._failures: dict[str, deque[float]] = {}
        self._closed_until: dict[str, float] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again (``None``: it may now)."""
        until = self._closed_until.get(address)
        if until is None:
            return None
        left = until - self._monotonic()
        if left <= 0:
            del self._closed_until[address]
            return None
        return max(1, int(left + 0.999))

    def failed(self, address: str) -> None:
        """Note a wrong key from ``address``; the tenth within a minute closes it until a minute after
        the first of them."""
        now = self._monotonic()
        recent = self._failures.pop(address, deque())
        while recent and now - recent[0] >= WINDOW_SECONDS:
            recent.popleft()
        recent.append(now)
        self._failures[address] = recent  # re-inserted: the dict keeps addresses by last failure
        if len(recent) >= MAX_FAILURES:
            self._closed_until[address] = recent[0] + WINDOW_SECONDS
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.pop(next(iter(self._failures)))
