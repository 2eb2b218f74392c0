"""Fixtures for the simulator's tests: a default-seed simulator on a manual clock, reached in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
ORG = DEFAULT_ORG_ID

# Deployments of the default seed (see scaler/sim/default_seed.yaml and SEED.md).
WHISPER = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
WHISPER_REPO = "0caac439-5518-4569-a3db-a2d505a189f2"
LLAMA_8B = "0b6df06d-c35c-4c90-ae22-290d3b7b7ed7"
LLAMA_70B = "0ae2c6ea-cea0-4878-b225-dcbe961ed843"
CODE_ASSIST = "83b2a56a-0a81-46e9-a849-1e1526363f31"
EMBEDDINGS = "2a0a1e00-9d7c-455c-852a-e8781ec0b15e"
BATCH_TRANSCRIBE = "e968f995-903c-45c3-b1f1-2127c5c014c1"
LEGACY_FAILED = "6e860223-52a3-46f6-a1bb-2748208bc7fb"
VISION_DEPLOYING = "54022b82-fd9d-4f2b-9e32-df17d78b4616"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def health_path(deployment_id: str) -> str:
    """The fetch-status path of ``deployment_id``."""
    return f"/deployments/model-deployment/fetch-status/{deployment_id}/"


def replicas_path(deployment_id: str) -> str:
    """The update-replicas path of ``deployment_id``."""
    return f"/deployments/{deployment_id}/update-replicas/"


def startstop_path(deployment_id: str) -> str:
    """The startstop path of ``deployment_id``."""
    return f"/deployments/{deployment_id}/startstop/"


def delete_path(deployment_id: str) -> str:
    """The delete path of ``deployment_id``."""
    return f"/deployments/{deployment_id}/delete/"


LIST_PATH = "/deployments/list/model/"

#: The default seed, read once: a SeedDocument is immutable, so every test can build from it.
DEFAULT_SEED = load_seed(DEFAULT_SEED_PATH)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test moves it."""
    return ManualClock()


class SleepRecorder:
    """Stands in for asyncio.sleep: records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    """The simulator's sleep, recorded instead of slept."""
    return SleepRecorder()


@pytest.fixture
def state(clock: ManualClock, sleeps: SleepRecorder) -> SimState:
    """The default seed's organization on the manual clock."""
    return SimState.from_seed(DEFAULT_SEED, clock=clock, sleep=sleeps)


@pytest.fixture
async def client(state: SimState) -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client talking to the simulator in process, with the right token."""
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=AUTH) as http:
        yield http


async def start(client: httpx.AsyncClient, deployment_id: str) -> httpx.Response:
    """Send a valid start for ``deployment_id``."""
    return await client.post(startstop_path(deployment_id), json={"action": "start", "org": ORG})


async def stop(client: httpx.AsyncClient, deployment_id: str) -> httpx.Response:
    """Send a valid stop for ``deployment_id``."""
    return await client.post(startstop_path(deployment_id), json={"action": "stop", "org": ORG})


async def listed_status(client: httpx.AsyncClient, deployment_id: str) -> str | None:
    """The status the list shows for ``deployment_id`` (None when it is not listed)."""
    response = await client.get(LIST_PATH)
    for item in response.json():
        if item["deployment_id"] == deployment_id:
            return item["status"]
    return None
