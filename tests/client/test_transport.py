"""The network transport over real loopback sockets: aiohttp's pool behind httpx's API, failures named."""

from __future__ import annotations

import socket

import httpx
import pytest

from scaler.sim import DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.faults import parse_malformed
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from scaler.simplismart import errors
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.retries import RetryPolicy
from scaler.simplismart.token import TokenSource
from scaler.simplismart.transport import NetworkTransport, environment_proxy
from tests.client.serving import LoopbackServer

pytestmark = pytest.mark.integration


def _client(url: str) -> SimplismartClient:
    return SimplismartClient(
        base_url=url, token=TokenSource.static(DEFAULT_TOKEN), org_id=None, retry=RetryPolicy(attempts=1)
    )


async def test_the_client_lists_over_the_network_transport() -> None:
    """Without a transport of its own, the client goes through NetworkTransport and reads the answer."""
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH))
    with LoopbackServer(create_app(state)) as server:
        async with _client(server.url) as client:
            listed = await client.list_deployments()
            transport = client._http._transport  # noqa: SLF001 - which transport is the point here
    assert (len(state.deployments), NetworkTransport) == (len(listed), type(transport))


async def test_a_connection_dropped_by_the_platform_is_a_transient_connection_failure() -> None:
    """The server closes the connection half-way through the answer: ConnectionFailed, transient, not a timeout."""
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH))
    state.faults.malformed.append(parse_malformed({"kind": "drop", "endpoint": "list_deployments"}))
    with LoopbackServer(create_app(state)) as server:
        async with _client(server.url) as client:
            with pytest.raises(errors.SimplismartError) as caught:
                await client.list_deployments()
    assert (errors.ConnectionFailed, True) == (type(caught.value), caught.value.transient)


async def test_a_refused_connection_is_a_connection_failure_not_a_timeout() -> None:
    """Nothing listens on the port: ConnectionFailed at once, not a connect timeout."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(errors.SimplismartError) as caught:
            await client.list_deployments()
    assert errors.ConnectionFailed == type(caught.value)


def test_the_proxy_of_the_environment_is_used_for_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY names the proxy for an https API URL (read once, when the client is built)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxy = environment_proxy("https://api.app.simplismart.ai")
    assert httpx.URL("http://proxy.example:3128") == (proxy.url if proxy else None)


def test_no_proxy_excludes_the_api_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host listed in NO_PROXY is reached directly."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.app.simplismart.ai")
    assert None is environment_proxy("https://api.app.simplismart.ai")
