"""A network between the daemon and the simulator whose answers a test holds back and releases.

The platform acts on a request when it arrives (the simulator handles it at once, at the
shared clock's instant); only its answer is late, for as long as the test keeps the gate
of that endpoint closed. Tests use it to interleave the daemon's jobs exactly: a list
that was taken before a boundary and read after it, a boundary whose calls are still
unanswered while another job waits for the reconcile lock.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx


class Stalls(httpx.AsyncBaseTransport):
    """Forwards every request at once and holds the answers of the endpoints a test names."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._gates: dict[str, asyncio.Event] = {}
        self._errors: dict[str, Exception] = {}
        self.held: Counter[str] = Counter()
        """How many answers each gate holds now."""
        self._changed = asyncio.Condition()

    def hold(self, fragment: str) -> None:
        """Hold the answers of requests whose path contains ``fragment`` until :meth:`release`."""
        self._gates[fragment] = asyncio.Event()

    def release(self, fragment: str, *, lost: Exception | None = None) -> None:
        """Let the held answers of ``fragment`` through, and every later one; with ``lost``, the held
        answers are lost instead (their requests raise it, as a read timeout does: the platform acted)."""
        if lost is not None:
            self._errors[fragment] = lost
        self._gates.pop(fragment).set()

    async def wait_held(self, fragment: str, count: int = 1) -> None:
        """Return once ``count`` answers of ``fragment`` are held (the requests reached the platform)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.held[fragment] >= count), timeout=5)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        for fragment, gate in list(self._gates.items()):
            if fragment in request.url.path:
                async with self._changed:
                    self.held[fragment] += 1
                    self._changed.notify_all()
                await gate.wait()
                self.held[fragment] -= 1
                lost = self._errors.pop(fragment, None)
                if lost is not None:
                    self._errors[fragment] = lost  # for every answer that was held with it
                    if self.held[fragment] == 0:
                        self._errors.pop(fragment)
                    raise lost
        return response


async def settle() -> None:
    """Let every task that can run, run (without moving any clock)."""
    for _ in range(50):
        await asyncio.sleep(0)
