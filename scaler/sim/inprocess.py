"""An httpx transport that hands each request straight to the simulator's platform endpoints, in process.

``httpx.ASGITransport`` in front of :func:`~scaler.sim.app.create_app` costs about as much
per request as the simulator's own work: httpx's ASGI bridge (it looks for trio on every
request) and Starlette's middleware and router. :class:`PlatformTransport` matches the path
against the same routes (:func:`~scaler.sim.app.platform_routes`) and calls the matched
:class:`~scaler.sim.app.PlatformEndpoint` with the scope, ``receive`` and ``send`` the ASGI
bridge would give it, so authentication, faults and the request log work as they do over
HTTP. The control API (``/_sim/``) goes through the whole app. As with ``ASGITransport``,
an exception raised by the endpoint (an injected dropped connection) reaches the caller.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
from starlette.routing import Route

from scaler.sim.app import create_app, platform_routes
from scaler.sim.state import SimState

#: Paths served by the whole app (the control API) rather than by the platform's endpoints.
CONTROL_PREFIX = "/_sim"


class PlatformTransport(httpx.AsyncBaseTransport):
    """Sends requests to the simulator of ``state`` without a server, a router or middleware in between."""

    def __init__(self, state: SimState) -> None:
        self._routes: list[Route] = platform_routes(state)
        self._control = httpx.ASGITransport(app=create_app(state))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return await self._control.handle_async_request(request)
        route, path_params = self._match(path)
        scope = {
            "type": "http",
            "method": request.method,
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "path": path,
            "query_string": request.url.query,
            "path_params": path_params,
        }
        body = await request.aread()
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        parts: list[bytes] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(message.get("headers", []))
            elif message["type"] == "http.response.body" and request.method != "HEAD":
                parts.append(message.get("body", b""))

        await route.endpoint(scope, receive, send)
        if status is None:
            raise RuntimeError(f"the simulator's endpoint for {path} sent no answer")
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(b"".join(parts)))

    def _match(self, path: str) -> tuple[Route, dict[str, Any]]:
        """The first route whose path matches, and its converted parameters (the last route matches any path)."""
        for route in self._routes:
            found = route.path_regex.match(path)
            if found is not None:
                params = {
                    key: route.param_convertors[key].convert(value) for key, value in found.groupdict().items()
                }
                return route, params
        raise AssertionError("the last platform route matches every path")
