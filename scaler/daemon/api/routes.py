"""The routes of ``/api/v1/``: deployments (list, one), exceptions (list, create, one, end).

Every answer is JSON; errors are ``{"error": "..."}`` (400 naming the field, 401, 403, 404,
409 for an ambiguous name with its ``candidates``, 413, 415, 429). A write goes through
:mod:`scaler.daemon.api.writes` (as the console's do): it records the exception in the state
store and wakes the daemon (:meth:`ControlFacts.exceptions_changed`); no route calls the platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scaler.daemon.api.auth import Guard, error
from scaler.daemon.api.facts import ControlFacts
from scaler.daemon.api.bodies import BodyError, parse_exception_request, read_json
from scaler.daemon.api.keys import Caller, Role
from scaler.daemon.api.writes import Refused, ambiguous, record_exception
from scaler.daemon.api.writes import end_exception as end_exception_of
from scaler.daemon.exceptions_in_force import in_force
from scaler.daemon.status import exception_brief, exception_document
from scaler.store import ExceptionRecord, StoreError

log = structlog.get_logger()


#: A route's work, once its caller is allowed: (the daemon's facts, the request, the caller) to the answer.
Handler = Callable[[ControlFacts, Request, Caller], Awaitable[Response]]


def api_routes(daemon: ControlFacts, guard: Guard) -> list[Route]:
    """Return the routes of the control API."""

    def route(path: str, method: str, need: Role, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            return await _answered(daemon, guard, need, request, handler)

        return Route(path, endpoint, methods=[method])

    return [
        route("/api/v1/deployments", "GET", "viewer", _list_deployments),
        route("/api/v1/deployments/{name_or_id}", "GET", "viewer", _get_deployment),
        route("/api/v1/exceptions", "GET", "viewer", _list_exceptions),
        route("/api/v1/exceptions", "POST", "operator", _create_exception),
        route("/api/v1/exceptions/{exception_id}", "GET", "viewer", _get_exception),
        route("/api/v1/exceptions/{exception_id}", "DELETE", "operator", _end_exception),
    ]


async def _answered(daemon: ControlFacts, guard: Guard, need: Role, request: Request, handler: Handler) -> Response:
    """The handler's answer when the caller holds role ``need``; every refusal and failure as its error answer."""
    try:
        caller = guard.check(request, need)
        if isinstance(caller, Response):
            return caller
        return await handler(daemon, request, caller)
    except Refused as refused:
        return JSONResponse({"error": refused.message, **refused.details}, status_code=refused.status)
    except BodyError as problem:
        body: dict[str, Any] = {"error": str(problem)}
        if problem.field:
            body["field"] = problem.field
        return JSONResponse(body, status_code=problem.status)
    except StoreError as failure:
        log.error("api_store_failed", error=str(failure))
        return error(503, f"the state store cannot be used: {failure}")


async def _active(daemon: ControlFacts, now: datetime) -> list[ExceptionRecord]:
    return await asyncio.to_thread(daemon.store.active_exceptions, now)


def _with_exceptions(entry: dict[str, Any], active: list[ExceptionRecord], now: datetime) -> dict[str, Any]:
    covering = in_force(active, UUID(entry["deployment_id"]), entry.get("policy"), now).covering
    return {**entry, "exceptions": [exception_brief(exception) for exception in covering]}


async def _list_deployments(daemon: ControlFacts, request: Request, caller: Caller) -> Response:
    now = daemon.clock()
    active = await _active(daemon, now)
    documents = await daemon.deployment_documents()
    return JSONResponse({"deployments": [_with_exceptions(entry, active, now) for entry in documents]})


async def _get_deployment(daemon: ControlFacts, request: Request, caller: Caller) -> Response:
    wanted = request.path_params["name_or_id"]
    now = daemon.clock()
    active = await _active(daemon, now)
    documents = await daemon.deployment_documents()
    found = [d for d in documents if wanted in (d["deployment_id"], d["deployment_name"])]
    if not found:
        return error(404, f"no deployment is called {wanted!r} (by name or id)")
    if len(found) > 1:
        raise ambiguous(wanted, [(UUID(d["deployment_id"]), d["deployment_name"]) for d in found])
    return JSONResponse(_with_exceptions(found[0], active, now))


async def _list_exceptions(daemon: ControlFacts, request: Request, caller: Caller) -> Response:
    show_all = request.query_params.get("all", "false").lower()
    if show_all not in ("true", "false"):
        raise BodyError("must be true or false", field="all")
    now = daemon.clock()
    if show_all == "true":
        found = await asyncio.to_thread(daemon.store.all_exceptions)
    else:
        found = await _active(daemon, now)
    names = daemon.deployment_names()
    return JSONResponse({"exceptions": [exception_document(e, names, now) for e in found]})


async def _create_exception(daemon: ControlFacts, request: Request, caller: Caller) -> Response:
    document = await read_json(request)
    wanted = parse_exception_request(document, daemon.clock())
    record = await record_exception(daemon, wanted, caller)
    return JSONResponse(exception_document(record, daemon.deployment_names(), daemon.clock()), status_code=201)


async def _get_exception(daemon: ControlFacts, request: Request, caller: Caller) -> Response:
    key = request.path_params["exception_id"]
    found = await asyncio.to_thread(daemon.store.get_exception, key)
    if found is None:
        return error(404, f"no exception {key!r}")
    return JSONResponse(exception_document(found, daemon.deployment_names(), daemon.clock()))


async def _end_exception(daemon: ControlFacts, request: Request, caller: Caller) -> Response:
    found = await end_exception_of(daemon, request.path_params["exception_id"], caller)
    return JSONResponse(exception_document(found, daemon.deployment_names(), daemon.clock()))
