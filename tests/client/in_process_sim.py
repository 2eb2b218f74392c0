"""The platform simulator in process, on a manual clock, with its control API: for the client's tests against it and
the reliability scenarios.

``InProcessSim`` serves the default seed through ``httpx.ASGITransport``; ``client()``
builds a :class:`~scaler.simplismart.client.SimplismartClient` pointed at it (fake time
for backoff and the rate limiter, so retries cost no real time; the per-attempt deadline
stays real), and ``ctl()`` drives ``/_sim/`` (faults, health, clock, reset).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from scaler.metrics import Metrics
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.token import TokenSource
from tests.client.fakes import TEST_LIMITS, TEST_RETRY, FakeTime

#: whisper-v3, DEPLOYED in the default seed (the contract's example deployment).
WHISPER = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
BASE_URL = "http://sim.test"


class InProcessSim:
    """The simulator on the default seed, served in process; close it with :meth:`aclose`."""

    def __init__(self, *, rng_seed: int = 0, token: str = DEFAULT_TOKEN) -> None:
        """Serve the default seed; ``token`` is the only bearer token the simulated platform accepts."""
        self.token = token
        self.clock = ManualClock()
        self.state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=self.clock, token=token, rng_seed=rng_seed)
        self.app = create_app(self.state)
        self.control = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL)
        self.time = FakeTime()

    def client(
        self,
        *,
        token: str | None = None,
        org_id: str | None = DEFAULT_ORG_ID,
        metrics: Metrics | None = None,
        **options: Any,
    ) -> SimplismartClient:
        """A client of the simulator, with its token unless ``token`` is given, of ``org_id`` (``None``: no
        organization); ``options`` override the rest."""
        settings: dict[str, Any] = {
            "base_url": BASE_URL,
            "token": TokenSource.static(token or self.token),
            "org_id": UUID(org_id) if org_id else None,
            "transport": httpx.ASGITransport(app=self.app),
            "metrics": metrics,
            "clock": self.time.clock,
            "sleep": self.time.sleep,
            "limits": TEST_LIMITS,
            "retry": TEST_RETRY,
        }
        settings.update(options)
        return SimplismartClient(**settings)

    async def ctl(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API (``path`` below ``/_sim``); fail the test on an error answer."""
        response = await self.control.request(method, f"/_sim{path}", json=body)
        assert response.is_success, f"{method} /_sim{path}: {response.status_code} {response.text}"
        return response.json()

    async def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The simulator's request log (platform requests only), oldest first."""
        query = f"?endpoint={endpoint}" if endpoint else ""
        return (await self.ctl("GET", f"/requests{query}"))["requests"]

    async def aclose(self) -> None:
        """Close the control client."""
        await self.control.aclose()
