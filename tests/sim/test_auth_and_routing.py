"""Bearer auth, request ids, unknown paths and wrong methods on the platform surface."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from scaler.sim.app import create_app
from scaler.sim.state import SimState
from tests.sim.conftest import LIST_PATH, ORG, WHISPER, delete_path, health_path, replicas_path, startstop_path

INVALID = {"detail": "Invalid token."}

ENDPOINTS = [
    ("GET", LIST_PATH, None),
    ("GET", health_path(WHISPER), None),
    ("POST", replicas_path(WHISPER), {"min_replicas": 1, "max_replicas": 2}),
    ("POST", startstop_path(WHISPER), {"action": "stop", "org": ORG}),
    ("DELETE", delete_path(WHISPER), None),
]
BAD_AUTHORIZATION = [
    None,
    "Bearer wrong-token",
    "Token sim-token",
    "Basic c2ltLXRva2VuOg==",
    "sim-token",
    "Bearer",
    "Bearer sim-token-and-more",
]


@pytest.fixture
async def anonymous(state: SimState) -> AsyncIterator[httpx.AsyncClient]:
    """A client without any Authorization header."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url="http://sim") as http:
        yield http


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION)
async def test_every_endpoint_refuses_a_bad_token_with_401(
    anonymous: httpx.AsyncClient, state: SimState, method: str, path: str, body: dict | None, authorization: str | None
) -> None:
    """Missing header, wrong scheme or wrong token: 401 {"detail": "Invalid token."}, and nothing changes."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await anonymous.request(method, path, json=body, headers=headers)
    assert (401, INVALID) == (response.status_code, response.json())
    assert "DEPLOYED" == state.deployments[WHISPER].status


async def test_scheme_is_case_insensitive(anonymous: httpx.AsyncClient) -> None:
    """`bearer` in lower case is the Bearer scheme."""
    response = await anonymous.get(LIST_PATH, headers={"Authorization": "bearer sim-token"})
    assert 200 == response.status_code


async def test_401_names_the_scheme_in_www_authenticate(anonymous: httpx.AsyncClient) -> None:
    """A 401 carries WWW-Authenticate: Bearer."""
    response = await anonymous.get(LIST_PATH)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_configured_token_replaces_the_default(clock) -> None:
    """A simulator built with another token accepts it and refuses sim-token."""
    app = create_app(SimState(clock=clock, token="other-token"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        assert 200 == (await http.get(LIST_PATH, headers={"Authorization": "Bearer other-token"})).status_code
        assert 401 == (await http.get(LIST_PATH, headers={"Authorization": "Bearer sim-token"})).status_code


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    """The X-Request-Id sent is the X-Request-Id answered."""
    response = await client.get(LIST_PATH, headers={"X-Request-Id": "req-123"})
    assert "req-123" == response.headers["x-request-id"]


async def test_request_id_is_echoed_on_errors_too(anonymous: httpx.AsyncClient) -> None:
    """A 401 echoes the request id as well."""
    response = await anonymous.get(LIST_PATH, headers={"X-Request-Id": "req-401"})
    assert "req-401" == response.headers["x-request-id"]


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    """Without X-Request-Id the answer carries a fresh one, different each time."""
    first = (await client.get(LIST_PATH)).headers["x-request-id"]
    second = (await client.get(LIST_PATH)).headers["x-request-id"]
    assert (32, 32, True) == (len(first), len(second), first != second)


@pytest.mark.parametrize(
    "path",
    [
        "/deployments/list/model",  # no trailing slash
        f"/deployments/model-deployment/fetch-status/{WHISPER}",
        "/deployments/",
        "/api/v1/deployments/",
    ],
)
async def test_unknown_path_answers_404_not_found(client: httpx.AsyncClient, path: str) -> None:
    """Paths outside the contract (a missing trailing slash included) answer 404 {"detail": "Not found."}."""
    response = await client.get(path)
    assert (404, {"detail": "Not found."}) == (response.status_code, response.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", LIST_PATH),
        ("DELETE", health_path(WHISPER)),
        ("GET", replicas_path(WHISPER)),
        ("GET", delete_path(WHISPER)),
        ("PUT", startstop_path(WHISPER)),
    ],
)
async def test_wrong_method_answers_405(client: httpx.AsyncClient, method: str, path: str) -> None:
    """A known path with the wrong method answers 405 with an Allow header naming the right one."""
    response = await client.request(method, path)
    assert 405 == response.status_code
    assert f'Method "{method}" not allowed.' == response.json()["detail"]
    assert response.headers["allow"] in ("GET", "POST", "DELETE")


async def test_control_api_needs_no_token(anonymous: httpx.AsyncClient) -> None:
    """The control API answers without any Authorization header."""
    assert 200 == (await anonymous.get("/_sim/")).status_code
