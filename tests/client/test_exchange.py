"""The client's exchange builds the requests httpx's build_request would, and sends them as send would."""

from __future__ import annotations

import httpx
import pytest

from scaler.simplismart import exchange as exchange_module
from scaler.simplismart.exchange import CLOSED_MESSAGE, Exchange

HEADERS = {"Authorization": "Bearer secret-token", "X-Request-Id": "5f8f1c5e-6f4b-4a43-9d84-1f1f2b0c3d4e"}
HEALTH_PATH = "/deployments/0b6e3c1a-2f9d-4e57-8c55-1d2b3c4d5e6f/fetch-status/"


def _client(handler, base_url: str = "https://api.example.com") -> tuple[httpx.AsyncClient, Exchange]:
    transport = httpx.MockTransport(handler)
    http = httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(7.0),
        headers={"User-Agent": "simplismart-scaler/test", "Accept": "application/json"},
        follow_redirects=False,
    )
    return http, Exchange(http, transport)


def _shape(request: httpx.Request) -> tuple:
    return (request.method, str(request.url), request.headers.multi_items(), request.content, request.extensions)


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": "Healthy"})


@pytest.mark.parametrize(
    ("base_url", "method", "path", "json"),
    [
        ("https://api.example.com", "GET", HEALTH_PATH, None),
        ("https://api.example.com/", "POST", "/deployments/update-replicas/", {"min_replicas": 1, "max_replicas": 2}),
        ("https://api.example.com/v1", "DELETE", "/deployments/abc/delete/", None),
    ],
)
def test_a_request_is_the_one_build_request_builds(base_url: str, method: str, path: str, json: dict | None) -> None:
    """URL (base path included), headers in order, body and timeouts are those of AsyncClient.build_request."""
    http, exchange = _client(_ok, base_url)
    expected = http.build_request(method, path, json=json, headers=HEADERS)
    assert _shape(expected) == _shape(exchange.build(method, path, json=json, headers=HEADERS))


def test_query_parameters_are_merged_as_build_request_merges_them() -> None:
    """A call with query parameters gets the URL build_request gives it."""
    http, exchange = _client(_ok)
    params = {"model_repo_id": "7d1c2b3a-0000-4000-8000-000000000001"}
    expected = http.build_request("GET", "/deployments/list/model/", params=params, headers=HEADERS)
    assert _shape(expected) == _shape(exchange.build("GET", "/deployments/list/model/", params=params, headers=HEADERS))


async def test_a_cookie_the_server_sets_is_sent_with_the_next_request() -> None:
    """As with AsyncClient.send: a Set-Cookie answer goes into the client's jar and the next request carries it."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "lb=node-2; Path=/"}, json={})

    http, exchange = _client(handler)
    for _ in range(2):
        response = await exchange.send(exchange.build("GET", HEALTH_PATH, headers=HEADERS))
        await response.aclose()
    await http.aclose()
    assert [None, "lb=node-2"] == seen


async def test_the_answer_carries_its_request_and_an_unread_body() -> None:
    """The response knows its request; its body is read by the caller (streamed, as send(stream=True))."""
    http, exchange = _client(_ok)
    request = exchange.build("GET", HEALTH_PATH, headers=HEADERS)
    response = await exchange.send(request)
    body = await response.aread()
    await http.aclose()
    assert (request, b'{"data":"Healthy"}') == (response.request, body)


async def test_a_transport_error_carries_the_request() -> None:
    """A connection failure raised by the transport names the request, as httpx's client does."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    http, exchange = _client(handler)
    request = exchange.build("GET", HEALTH_PATH, headers=HEADERS)
    with pytest.raises(httpx.ConnectError) as caught:
        await exchange.send(request)
    await http.aclose()
    assert request is caught.value.request


async def test_a_closed_client_sends_nothing() -> None:
    """After aclose, sending raises httpx's own RuntimeError and the transport is not called."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _ok(request)

    http, exchange = _client(handler)
    request = exchange.build("GET", HEALTH_PATH, headers=HEADERS)
    await http.aclose()
    with pytest.raises(RuntimeError) as caught:
        await exchange.send(request)
    assert (CLOSED_MESSAGE, []) == (str(caught.value), calls)


async def test_a_base_url_with_credentials_goes_through_httpx_send() -> None:
    """A base URL carrying user:password is sent by AsyncClient.send, so httpx's own authentication applies."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return _ok(request)

    http, exchange = _client(handler, "https://user:pass@api.example.com")
    response = await exchange.send(exchange.build("GET", HEALTH_PATH, headers=HEADERS))
    await response.aclose()
    await http.aclose()
    expected = http.build_request("GET", HEALTH_PATH, headers=HEADERS)
    httpx.BasicAuth("user", "pass").sync_auth_flow(expected).__next__()
    assert [expected.headers["authorization"]] == seen


def test_urls_stay_right_when_the_parsed_url_cache_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for two parsed URLs, five paths asked in turn twice each still get their own URLs."""
    monkeypatch.setattr(exchange_module, "URL_CACHE_SIZE", 2)
    _, exchange = _client(_ok)
    paths = [f"/deployments/{number}/fetch-status/" for number in range(5)] * 2
    expected = [f"https://api.example.com{path}" for path in paths]
    assert expected == [str(exchange.build("GET", path, headers=HEADERS).url) for path in paths]
