"""A daemon wired to the simulator in process, on one manual clock that drives both.

Tests build a :class:`Harness`, put the clock where they want, run the daemon's cycle
functions directly (``cycle()`` as the reconcile job, ``wake_up()`` as the boundary job,
``poll_health()`` as the health job) and assert on the simulator's request log, the
store's audit log, metrics on a fresh registry and captured logs.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from scaler.daemon.execution import always
from scaler.daemon.board import CycleSummary
from scaler.daemon.service import Daemon
from scaler.metrics import Metrics
from scaler.settings import load_settings
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.model import SeedDocument
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.retries import RetryPolicy
from scaler.store import ActionRecord, Store, open_store

DEFAULT_SEED = load_seed(DEFAULT_SEED_PATH)
EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"

#: Monday 2 March 2026, 00:00 UTC (Berlin is UTC+1 then, New York UTC-5).
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)

# Deployments of the default seed.
LLAMA_8B = "0b6df06d-c35c-4c90-ae22-290d3b7b7ed7"
LLAMA_70B = "0ae2c6ea-cea0-4878-b225-dcbe961ed843"
WHISPER = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
MISTRAL = "44cc25e3-af1f-4c34-8e00-67acff2c51b9"
SDXL = "9e888a83-5c16-45db-b5ec-c1daf8391c69"
EMBEDDINGS = "2a0a1e00-9d7c-455c-852a-e8781ec0b15e"
RERANKER = "c27a50a6-7c8b-4d80-aa77-ca2a9e24dd6c"
CODE_ASSIST = "83b2a56a-0a81-46e9-a849-1e1526363f31"
TMP_QWEN = "dd5211e7-cf93-417e-b6ae-2076e96d6b31"
BATCH = "e968f995-903c-45c3-b1f1-2127c5c014c1"
CANARY = "18d9a988-64d4-4a01-8dbd-55566f144906"

NAMES = {str(item.deployment_id): item.deployment_name for item in DEFAULT_SEED.deployments}

MUTATING = ("update_replicas", "startstop", "delete")


async def no_sleep(_seconds: float) -> None:
    """Stands in for asyncio.sleep in the client and the simulator: time is the test's."""


@dataclass(frozen=True)
class Call:
    """One mutating call the simulator answered: when (simulated), to which deployment, what."""

    at: datetime
    deployment: str
    action: str
    status: int | None

    def __str__(self) -> str:
        return f"{self.at:%a %H:%M:%S} {self.deployment} {self.action} -> {self.status}"


def describe_request(endpoint: str, body: Any) -> str:
    """``stop``, ``start``, ``update_replicas 1..3`` or ``delete``."""
    if endpoint == "startstop":
        return str(body.get("action")) if isinstance(body, dict) else "startstop ?"
    if endpoint == "update_replicas" and isinstance(body, dict):
        return f"update_replicas {body.get('min_replicas')}..{body.get('max_replicas')}"
    return endpoint


class Harness:
    """The daemon and the simulator on one manual clock (see the module's docstring)."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        policies: str | Path,
        start: datetime = MONDAY,
        seed: SeedDocument | None = None,
        clock: Callable[[], datetime] | None = None,
        sim_sleep: Callable[[float], Awaitable[Any]] = no_sleep,
        client_options: dict[str, Any] | None = None,
        network: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        monotonic: Callable[[], float] | None = None,
        token: str = DEFAULT_TOKEN,
        **settings: Any,
    ) -> None:
        """Build the simulator, the store and the daemon (policies loaded).

        ``clock`` replaces the manual clock (then ``at``/``advance`` cannot move it: the
        caller's clock moves itself); ``sim_sleep`` is what the simulator awaits for
        injected latency; ``client_options`` override the client's test defaults (no
        sleeping; ``limits`` without a rate limit, ``retry`` without jitter); ``network`` wraps the transport the daemon's
        client uses (faults between the daemon and the platform). ``settings`` override
        the daemon's settings. ``monotonic`` is the daemon's monotonic clock (default: the
        manual clock's seconds, so that moving it makes the daemon's liveness stale).
        ``token`` is the API token the platform accepts and the daemon sends.
        """
        self.tmp_path = tmp_path
        self.clock: Any = clock or ManualClock(start)
        self.client_options = client_options or {}
        self.monotonic = monotonic or (lambda: self.clock().timestamp())
        self.token = token
        self.sim = SimState.from_seed(seed or DEFAULT_SEED, clock=self.clock, sleep=sim_sleep, token=token)
        self.app = create_app(self.sim)
        self.transport = httpx.ASGITransport(app=self.app)
        self.network = network(self.transport) if network is not None else self.transport
        if isinstance(policies, Path):
            policy_path = policies
        else:
            policy_path = tmp_path / "policies"
            policy_path.mkdir(exist_ok=True)
            (policy_path / "policies.yaml").write_text(policies)
        self.policy_path = policy_path
        options: dict[str, Any] = {
            "api_url": "http://sim",
            "api_token": token,
            "org_id": DEFAULT_ORG_ID,
            "policy_path": policy_path,
            "state_url": f"sqlite:///{tmp_path / 'state.db'}",
            "max_requests_per_second": 1000.0,
            "api_retry_attempts": 2,
            # Every series, so that tests can read any of them; tests of the other details set theirs.
            "metrics_deployment_detail": "full",
        }
        options.update(settings)
        self.settings = load_settings(**options)
        self.registry = CollectorRegistry()
        self.metrics = self._metrics(self.registry)
        self.store: Store = open_store(self.settings.state_url)
        self._replicas: list[Daemon] = []
        self.daemon = self._build()
        self.daemon.load_policies()

    def _metrics(self, registry: CollectorRegistry) -> Metrics:
        return Metrics(registry, deployment_detail=self.settings.metrics_deployment_detail)

    def _build(self, *, metrics: Metrics | None = None, may_act: Callable[[], bool] | None = None) -> Daemon:
        options: dict[str, Any] = {
            "sleep": no_sleep,
            "limits": replace(Limits.from_settings(self.settings), max_requests_per_second=math.inf),
            "retry": replace(RetryPolicy.from_settings(self.settings), wait_jitter_seconds=0.0),
            **self.client_options,
        }
        metrics = metrics or self.metrics
        client = SimplismartClient.from_settings(self.settings, transport=self.network, metrics=metrics, **options)
        return Daemon(
            settings=self.settings,
            client=client,
            store=self.store,
            metrics=metrics,
            clock=self.clock,
            monotonic=self.monotonic,
            may_act=may_act or always,
        )

    def sibling(self, **parts: Any) -> Daemon:
        """Another daemon on this harness's settings, client, store, metrics and clock, its policies not
        loaded yet; ``parts`` are further arguments of :class:`Daemon` (``may_act``, ``elector``)."""
        return Daemon(
            settings=self.settings,
            client=self.daemon.client,
            store=self.store,
            metrics=self.metrics,
            clock=self.clock,
            **parts,
        )

    def replica(self, *, may_act: Callable[[], bool]) -> tuple[Daemon, CollectorRegistry]:
        """Another instance on the same store and simulator, acting only while ``may_act()`` holds.

        It has its own client and its own metrics registry (returned with it), as a second
        replica's process would, and its policies are loaded. It is closed with the harness.
        """
        registry = CollectorRegistry()
        daemon = self._build(metrics=self._metrics(registry), may_act=may_act)
        daemon.load_policies()
        self._replicas.append(daemon)
        return daemon, registry

    def restart(self, **settings: Any) -> Daemon:
        """A new daemon process on the same store and simulator (a restart, or a crash and a restart)."""
        if settings:
            self.settings = load_settings(**{**self.settings.model_dump(), **settings, "api_token": self.token})
        self.metrics = self._metrics(CollectorRegistry())
        self.registry = self.metrics.registry
        self.daemon = self._build()
        self.daemon.load_policies()
        return self.daemon

    # --- Driving time -------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def at(self, instant: datetime) -> None:
        """Move the shared clock to ``instant``."""
        self.clock.set(instant)

    def advance(self, **delta: float) -> None:
        """Move the shared clock forward by ``timedelta(**delta)``."""
        self.clock.set(self.clock() + timedelta(**delta))

    async def cycle(self) -> CycleSummary:
        """The reconcile job: list, reconcile everything."""
        return await self.daemon.inventory_cycle()

    async def poll_health(self) -> None:
        """The health job: poll, reconcile the deployments whose health changed."""
        await self.daemon.poll_health()

    async def run_until(
        self,
        end: datetime,
        *,
        interval: timedelta = timedelta(hours=1),
        health_every: timedelta | None = None,
    ) -> None:
        """Play the scheduler until ``end``: boundary wake-ups exactly when due, a reconcile every
        ``interval`` and, if asked, a health poll every ``health_every``."""
        next_interval = self.now() + interval
        next_health = self.now() + health_every if health_every is not None else None
        while True:
            wakeup = self.daemon.reconciler.next_wakeup(self.now())
            jobs = [(next_interval, 1, self.cycle)]
            if next_health is not None:
                jobs.append((next_health, 2, self.poll_health))
            if wakeup is not None:
                jobs.append((wakeup, 0, self.daemon.wake_up))
            when, kind, job = min(jobs, key=lambda item: (item[0], item[1]))
            if when > end:
                break
            self.at(when)
            await job()
            if kind == 1:
                next_interval += interval
            elif kind == 2 and next_health is not None and health_every is not None:
                next_health += health_every
        self.at(end)

    # --- Looking -----------------------------------------------------------------

    def calls(self, *, clear: bool = False) -> list[Call]:
        """The mutating calls the simulator answered, oldest first."""
        calls = [
            Call(
                datetime.fromisoformat(entry.timestamp),
                self._name(entry.deployment_id),
                describe_request(entry.endpoint or "", entry.body),
                entry.status,
            )
            for entry in self.sim.requests
            if entry.endpoint in MUTATING
        ]
        if clear:
            self.sim.requests.clear()
        return calls

    def _name(self, deployment_id: str | None) -> str:
        """The name of a deployment of the seed, or of one added since; else its id."""
        if deployment_id in NAMES:
            return NAMES[deployment_id]
        added = self.sim.deployments.get(deployment_id or "")
        return added.deployment_name if added is not None else deployment_id or "?"

    def requests(self, endpoint: str | None = None) -> list[Any]:
        """Every request the simulator answered (of one endpoint)."""
        return [entry for entry in self.sim.requests if endpoint is None or entry.endpoint == endpoint]

    def audit(self, *, results: Iterable[str] | None = None) -> list[ActionRecord]:
        """The audit log, oldest first (only some results if asked)."""
        records = list(reversed(self.store.recent_actions(10_000)))
        if results is not None:
            wanted = set(results)
            records = [record for record in records if record.result in wanted]
        return records

    def sample(self, name: str, **labels: str) -> float | None:
        """The value of one series of the daemon's registry."""
        return self.registry.get_sample_value(name, labels)

    async def control(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """Call the simulator's control API (``/_sim/...``)."""
        async with httpx.AsyncClient(transport=self.transport, base_url="http://sim") as http:
            response = await http.request(method, f"/_sim/{path.lstrip('/')}", json=json)
        assert response.status_code < 400, response.text
        return response

    async def close(self) -> None:
        for replica in self._replicas:
            await replica.notifier.delivery.aclose()
            await replica.client.aclose()
        await self.daemon.notifier.delivery.aclose()
        await self.daemon.client.aclose()
        self.store.close()


def at_utc(day: datetime, hhmm: str) -> datetime:
    """``day`` at ``HH:MM`` (or ``HH:MM:SS``) UTC."""
    hours, minutes, *seconds = (int(part) for part in hhmm.split(":"))
    return day.replace(hour=hours, minute=minutes, second=seconds[0] if seconds else 0, microsecond=0)
