"""The simulator's ASGI app: the platform surface (auth, faults, request log) plus the control API.

The five platform endpoints are plain ASGI callables rather than request/response
handlers: they must be cheap (benchmarks drive thousands of requests a second
through them) and some injected faults need the raw ``send`` (a slow body, a
connection dropped half-way). Everything under ``/_sim/`` is the control API
(:mod:`scaler.sim.control`), which is neither authenticated nor logged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from uuid import uuid4

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from scaler.sim import platform
from scaler.sim.constants import (
    DELETE,
    GET_HEALTH,
    INVALID_TOKEN,
    LIST_DEPLOYMENTS,
    NOT_FOUND_DETAIL,
    STARTSTOP,
    UPDATE_REPLICAS,
)
from scaler.sim.control import control_routes
from scaler.sim.faults import DROP, SLOW_DRIP, FailureAnswer, Malformed
from scaler.sim.malformed import JSON_TYPE, damage
from scaler.sim.platform import Answer
from scaler.sim.requestlog import LoggedRequest
from scaler.sim.state import SimState, Sleep

_WWW_AUTHENTICATE = (b"www-authenticate", b'Bearer realm="api"')


class DroppedConnection(ConnectionResetError):
    """Raised inside the app to drop a connection half-way through an answer (the ``drop`` fault).

    Served by uvicorn, the client sees the connection close before the announced body
    is complete. In process (``httpx.ASGITransport``) this exception reaches the caller.
    """


class _Call:
    """What a platform handler gets: the state, the instant, the path's id, the query and the parsed body."""

    __slots__ = ("body", "deployment_id", "now", "query")

    def __init__(self, now: Any, deployment_id: str | None, query: dict[str, str], body: Any) -> None:
        self.now = now
        self.deployment_id = deployment_id
        self.query = query
        self.body = body


def _list(state: SimState, call: _Call) -> Answer:
    return platform.list_deployments(state, call.now, call.query)


def _health(state: SimState, call: _Call) -> Answer:
    return platform.fetch_status(state, call.now, call.deployment_id)


def _update(state: SimState, call: _Call) -> Answer:
    return platform.update_replicas(state, call.now, call.deployment_id or "", call.body)


def _startstop(state: SimState, call: _Call) -> Answer:
    return platform.startstop(state, call.now, call.deployment_id or "", call.body)


def _delete(state: SimState, call: _Call) -> Answer:
    return platform.delete(state, call.now, call.deployment_id or "")


def encode(body: Any) -> bytes:
    """Return ``body`` as compact JSON bytes (bytes pass through unchanged)."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, separators=(",", ":")).encode()


class PlatformEndpoint:
    """One endpoint of the platform surface, as an ASGI app.

    Order of work for a request: read it; apply injected latency; an injected failure
    answers instead of handling (nothing changes); otherwise check the token (401),
    the method (405) and the JSON body (400), then handle it; finally a pending
    malformed answer damages the genuine one (the change it made stays made). Every
    request is logged.
    """

    def __init__(
        self, state: SimState, name: str | None, method: str, handler: Callable[[SimState, _Call], Answer] | None
    ):
        self.state = state
        self.name = name
        self.method = method
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        authorization = request_id = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value
            elif key == b"x-request-id":
                request_id = value
        request_id_text = request_id.decode("latin-1") if request_id else uuid4().hex
        raw_body = await _read_body(receive)
        faults = state.faults
        failure: tuple[str, FailureAnswer] | None = None
        if faults.any and self.name is not None:
            delay = faults.delay_seconds(self.name, state.rng)
            if delay > 0:
                await state.sleep(delay)
            failure = faults.take_failure(self.name, state.rng)
        now = state.now()
        query = (
            dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
            if scope["query_string"]
            else {}
        )
        deployment_id = scope.get("path_params", {}).get("deployment_id")
        body, parse_error = _parse_body(raw_body)
        headers: list[tuple[bytes, bytes]] = []
        fault = failure[0] if failure is not None else None
        if failure is not None:
            status, payload, content_type = _failure_payload(failure[1])
            headers.extend(
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in failure[1].headers.items()
            )
        else:
            call = _Call(now, deployment_id, query, body if self.method == "POST" else None)
            status, payload, content_type = self._answer(scope["method"], authorization, parse_error, call, headers)

        malformed: Malformed | None = None
        if failure is None and faults.any and self.name is not None:
            malformed = faults.take_malformed(self.name)
            if malformed is not None:
                fault = f"malformed:{malformed.kind}"
                damaged = damage(malformed, self.name, status, payload)
                status, payload, content_type = damaged.status, damaged.body, damaged.content_type

        if self.handler is not None or not scope["path"].startswith("/_sim"):
            self._log(scope, query, body, status, request_id_text, now, deployment_id, fault)
        headers.extend(
            (
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id_text.encode("latin-1")),
            )
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await _send_body(send, payload, malformed, state.sleep)

    def _answer(
        self,
        method: str,
        authorization: bytes | None,
        parse_error: str | None,
        call: _Call,
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[int, bytes, bytes]:
        """(status, body, content type) of a request no fault answers; adds to ``headers`` what the answer needs."""
        if self.handler is None:
            return 404, encode({"detail": NOT_FOUND_DETAIL}), JSON_TYPE
        if not self._authorized(authorization):
            headers.append(_WWW_AUTHENTICATE)
            return 401, encode({"detail": INVALID_TOKEN}), JSON_TYPE
        if method != self.method:
            headers.append((b"allow", self.method.encode()))
            return 405, encode({"detail": f'Method "{method}" not allowed.'}), JSON_TYPE
        if parse_error is not None and self.method == "POST":
            return 400, encode({"detail": f"JSON parse error - {parse_error}"}), JSON_TYPE
        answer = self.handler(self.state, call)
        return answer.status, encode(answer.body), JSON_TYPE

    def _log(
        self,
        scope: Scope,
        query: dict[str, str],
        body: Any,
        status: int,
        request_id: str,
        now: datetime,
        deployment_id: str | None,
        fault: str | None,
    ) -> None:
        self.state.requests.record(
            LoggedRequest(
                method=scope["method"],
                path=scope["path"],
                query=query,
                body=body,
                status=status,
                request_id=request_id,
                timestamp=now.isoformat(),
                endpoint=self.name,
                deployment_id=platform.canonical_id(deployment_id) or deployment_id,
                fault=fault,
            )
        )

    def _authorized(self, authorization: bytes | None) -> bool:
        if authorization is None:
            return False
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            credentials.strip().encode(), self.state.token.encode()
        )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_body(raw_body: bytes) -> tuple[Any, str | None]:
    """Return (parsed JSON or the raw text, the parse error or None); (None, None) for no body."""
    if not raw_body:
        return None, None
    try:
        return json.loads(raw_body), None
    except ValueError as exc:
        return raw_body.decode("utf-8", "replace"), str(exc)


def _failure_payload(answer: FailureAnswer) -> tuple[int, bytes, bytes]:
    if isinstance(answer.body, str):
        return answer.status, answer.body.encode(), b"text/plain"
    return answer.status, encode(answer.body), JSON_TYPE


async def _send_body(send: Send, payload: bytes, malformed: Malformed | None, sleep: Sleep) -> None:
    """Send the answer's body: whole, or as a ``malformed`` fault damages its delivery (dripped, dropped)."""
    if malformed is not None and malformed.kind == SLOW_DRIP:
        await _drip(send, payload, malformed.bytes_per_second, sleep)
    elif malformed is not None and malformed.kind == DROP:
        await send({"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True})
        raise DroppedConnection("connection dropped by an injected fault")
    else:
        await send({"type": "http.response.body", "body": payload})


async def _drip(send: Send, payload: bytes, bytes_per_second: float, sleep: Sleep) -> None:
    """Send ``payload`` in small pieces, ``bytes_per_second`` at most, ten pieces a second."""
    piece = max(1, int(bytes_per_second / 10))
    for offset in range(0, len(payload), piece):
        chunk = payload[offset : offset + piece]
        await sleep(len(chunk) / bytes_per_second)
        await send({"type": "http.response.body", "body": chunk, "more_body": offset + piece < len(payload)})
    if not payload:
        await send({"type": "http.response.body", "body": b""})


def platform_routes(state: SimState) -> list[Route]:
    """The platform surface for ``state``, in matching order; the last route answers every other path (404)."""

    def endpoint(
        name: str | None, method: str, handler: Callable[[SimState, _Call], Answer] | None
    ) -> PlatformEndpoint:
        return PlatformEndpoint(state, name, method, handler)

    return [
        Route("/deployments/list/model/", endpoint(LIST_DEPLOYMENTS, "GET", _list)),
        Route("/deployments/model-deployment/fetch-status//", endpoint(GET_HEALTH, "GET", _health)),
        Route("/deployments/model-deployment/fetch-status/{deployment_id}/", endpoint(GET_HEALTH, "GET", _health)),
        Route("/deployments/{deployment_id}/update-replicas/", endpoint(UPDATE_REPLICAS, "POST", _update)),
        Route("/deployments/{deployment_id}/startstop/", endpoint(STARTSTOP, "POST", _startstop)),
        Route("/deployments/{deployment_id}/delete/", endpoint(DELETE, "DELETE", _delete)),
        Route("/{path:path}", endpoint(None, "", None)),
    ]


def create_app(state: SimState) -> Starlette:
    """Return the simulator app for ``state``: the platform surface plus the control API under ``/_sim/``."""
    app = Starlette(routes=[Mount("/_sim", routes=control_routes(state)), *platform_routes(state)])
    app.state.sim = state
    return app
