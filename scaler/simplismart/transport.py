"""The network transport of the client: httpx's request and response API over aiohttp's connection pool.

httpx's own pool (httpcore) does work proportional to the square of its connections for
every request, and asks each idle connection's socket whether the server closed it: with
50 connections that costs about 5 ms of CPU per request, ten times the request itself, so
a 10,000-deployment health poll was bound by the scaler's CPU rather than by the platform.
aiohttp's pool hands a connection out in constant time; ``httpx-aiohttp`` plugs it in as
an httpx transport, so the client, its retries and its tests (``MockTransport``,
``ASGITransport``) keep httpx's API.

The proxy the environment names for the API's URL is read once, when the client is built
(aiohttp would otherwise read the environment and ``~/.netrc`` on every request). The
aiohttp session is created on first use, inside the running event loop, and closed
with the ``httpx.AsyncClient``. A connection dropped by the server is reported as
``httpx.RemoteProtocolError`` (``httpx-aiohttp`` reports every closed connection as a
connect timeout), so the client's error says what happened. :func:`ssl_context` adds the
certificate authorities of SCALER_CA_BUNDLE to the default trust store.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from scaler.simplismart.errors import ConfigurationError, one_line


def ssl_context(ca_bundle: Path) -> ssl.SSLContext:
    """Return the default trust store plus the certificate authorities in ``ca_bundle``.

    Raises :class:`ConfigurationError` naming SCALER_CA_BUNDLE when it cannot be loaded.
    """
    context = httpx.create_ssl_context()
    try:
        context.load_verify_locations(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        problem = getattr(exc, "strerror", None) or one_line(str(exc), limit=120)
        raise ConfigurationError(f"SCALER_CA_BUNDLE {ca_bundle} cannot be loaded: {problem}") from None
    return context


#: Seconds an idle keep-alive connection is kept (httpx's own default).
KEEPALIVE_SECONDS = 5.0


@contextmanager
def _errors_named() -> Iterator[None]:
    """Re-raise the connect timeouts ``httpx-aiohttp`` reports for every closed or refused connection
    as what they are: ``ConnectError`` (refused, unreachable, TLS), ``RemoteProtocolError`` (closed
    by the server), ``ReadError`` (reset). Real timeouts stay timeouts."""
    try:
        yield
    except httpx.ConnectTimeout as exc:
        cause = exc.__cause__
        if cause is None or isinstance(cause, (aiohttp.ServerTimeoutError, TimeoutError)):
            raise
        if isinstance(cause, aiohttp.ClientConnectorError):
            raise httpx.ConnectError(str(cause)) from cause
        if isinstance(cause, aiohttp.ServerDisconnectedError):
            raise httpx.RemoteProtocolError(str(cause) or "the server closed the connection") from cause
        if isinstance(cause, aiohttp.ClientConnectionError):
            raise httpx.ReadError(str(cause) or type(cause).__name__) from cause
        raise


class _NamedErrorsStream(httpx.AsyncByteStream):
    """A response body whose connection errors are named as :func:`_errors_named` does."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _errors_named():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _errors_named():
            await self._stream.aclose()


def environment_proxy(url: str) -> httpx.Proxy | None:
    """The proxy the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) names for
    ``url``, as httpx's own transport would use it; ``None`` for a direct connection."""
    parsed = urlsplit(url)
    proxies = getproxies()
    if not parsed.hostname or proxy_bypass(parsed.hostname):
        return None
    proxy = proxies.get(parsed.scheme) or proxies.get("all")
    return httpx.Proxy(proxy) if proxy else None


class NetworkTransport(AiohttpTransport):
    """``AiohttpTransport`` with at most ``max_connections`` connections, trusting ``ssl_context``,
    through ``proxy`` when one is given."""

    def __init__(self, *, max_connections: int, ssl_context: ssl.SSLContext, proxy: httpx.Proxy | None) -> None:
        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=max_connections, limit_per_host=0, ssl=ssl_context, keepalive_timeout=KEEPALIVE_SECONDS
            )
            # Not trust_env: aiohttp would then read ~/.netrc and the proxy variables on every request.
            return aiohttp.ClientSession(connector=connector, trust_env=False)

        super().__init__(verify=ssl_context, client=session, proxy=proxy)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; raise an ``httpx.RequestError`` naming what failed."""
        with _errors_named():
            response = await super().handle_async_request(request)
        response.stream = _NamedErrorsStream(response.stream)  # type: ignore[arg-type]
        return response


def network_transport(
    *, base_url: str, max_connections: int, ssl_context: ssl.SSLContext | None = None
) -> NetworkTransport:
    """Return the transport for real network calls to ``base_url``: at most ``max_connections``
    connections, certificates verified against ``ssl_context`` (default: httpx's, the certifi
    bundle), through the proxy the environment names for ``base_url`` (read once, here)."""
    return NetworkTransport(
        max_connections=max_connections,
        ssl_context=ssl_context or httpx.create_ssl_context(),
        proxy=environment_proxy(base_url),
    )
