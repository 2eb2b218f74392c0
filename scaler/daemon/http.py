"""The daemon's one HTTP server: ``/metrics``, ``/healthz``, ``/readyz``, ``/status``, the control API and the console.

The first four are read-only (GET and HEAD only). ``/metrics``
is :meth:`scaler.metrics.Metrics.exposition` in the text format (gzipped when the scraper
accepts it; ``name[]`` restricts it to those series, as prometheus_client's app does). ``/healthz`` answers 200 while
the loop runs and cycles keep completing; ``/readyz`` 200 when the policies are loaded,
the API is reachable and accepts the token, and the state store takes writes, else 503
with the failing check named. ``/status`` is the JSON document of
:meth:`scaler.daemon.service.Daemon.status_document`; with a keys file (``SCALER_API_KEYS_FILE``)
it needs a viewer key, as the control API's reads do (:mod:`scaler.daemon.api`), while
``/metrics``, ``/healthz`` and ``/readyz`` stay open. The web console is at ``/``
(:mod:`scaler.daemon.console.pages`). The API token and the control keys appear in none of them.

The server is uvicorn inside the daemon's event loop, without uvicorn's own signal
handlers (the daemon handles SIGTERM, SIGINT and SIGHUP itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections.abc import Iterator
from typing import Any, Protocol

import uvicorn
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from scaler.daemon.api.auth import Guard
from scaler.daemon.api.keys import KeyRing
from scaler.daemon.api.routes import api_routes
from scaler.daemon.console.page_data import ConsoleFacts
from scaler.daemon.console.pages import Console
from scaler.metrics import Metrics


class DaemonFacts(ConsoleFacts, Protocol):
    """What the endpoints ask the daemon."""

    keys: KeyRing

    def liveness(self) -> tuple[bool, dict[str, Any]]: ...
    def readiness(self) -> tuple[bool, dict[str, Any]]: ...
    async def status_document(self) -> dict[str, Any]: ...


def create_http_app(daemon: DaemonFacts, metrics: Metrics, *, guard: Guard | None = None) -> Starlette:
    """Return the daemon's ASGI app; ``guard`` checks keys and roles (default: on the daemon's keys)."""

    async def scrape(request: Request) -> Response:
        body = metrics.exposition(request.query_params.getlist("name[]"))
        headers = {}
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    async def healthz(_: Request) -> Response:
        ok, details = daemon.liveness()
        return JSONResponse({"ok": ok, **details}, status_code=200 if ok else 503)

    async def readyz(_: Request) -> Response:
        ready, checks = daemon.readiness()
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    guard = guard or Guard(daemon.keys)

    async def status(request: Request) -> Response:
        caller = guard.check(request, "viewer")
        if isinstance(caller, Response):
            return caller
        return JSONResponse(await daemon.status_document())

    read_only = ["GET", "HEAD"]
    return Starlette(
        routes=[
            Route("/metrics", scrape, methods=read_only),
            Route("/healthz", healthz, methods=read_only),
            Route("/readyz", readyz, methods=read_only),
            Route("/status", status, methods=read_only),
            *api_routes(daemon, guard),
            *Console(daemon, guard).routes(),
        ]
    )


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process's signals belong to whoever embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on (host, port) now, so that the bound port is known (port 0 picks a free one).

    Raises ``OSError`` when the address cannot be bound.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def url_of(listener: socket.socket) -> str:
    """Return ``http://HOST:PORT`` of a listening socket (IPv6 hosts in brackets)."""
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class BackgroundServer:
    """An ASGI app served by uvicorn as a task of the running loop, on a socket bound beforehand."""

    def __init__(self, app: ASGIApp, listener: socket.socket, *, log_level: str = "warning") -> None:
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self.server = EmbeddedServer(config)
        self.listener = listener
        self.url = url_of(listener)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start serving (from inside the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[self.listener]))

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (5 s at most), close the socket."""
        self.server.should_exit = True
        if self._task is not None:
            await self._task
        self.listener.close()
