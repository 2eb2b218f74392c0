"""The routes of ``/api/v1/``: deployments (list, one), exceptions (list, create, one, end).

Every answer is JSON; errors are ``{"error": "..."}`` (400 naming the field, 401, 403, 404,
409 for an ambiguous name with its ``candidates``, 413, 415, 429). A write goes through
:mod:`scaler.daemon.api.writes` (as the console's do): it records the exception in the state
store and wakes the daemon (:meth:`ControlFacts.exceptions_changed`); no route calls the platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
from scaler.daemon.api.writes import Refused, ambiguous, record_exception
from scaler.daemon.api.writes import end_exception as end_exception_of
from scaler.daemon.exceptions_in_force import in_force
from scaler.daemon.status import exception_brief, exception_document
from scaler.store import ExceptionRecord, StoreError

log = structlog.get_logger()


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def api_routes(daemon: ControlFacts, guard: Guard) -> list[Route]:
    """Return the routes of the control API."""

    def allowed(request: Request, need: str) -> Any:
        outcome = guard.check(request, "operator" if need == "operator" else "viewer")
        if isinstance(outcome, Response):
            raise _Refusal(outcome)
        return outcome

    async def answered(handler: Callable[[], Any]) -> Response:
        try:
            return await handler()
        except _Refusal as refusal:
            return refusal.response
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

    async def names_and_active(now: datetime) -> tuple[dict[UUID, str], list[ExceptionRecord]]:
        active = await asyncio.to_thread(daemon.store.active_exceptions, now)
        return daemon.deployment_names(), active

    def with_exceptions(entry: dict[str, Any], active: list[ExceptionRecord], now: datetime) -> dict[str, Any]:
        covering = in_force(active, UUID(entry["deployment_id"]), entry.get("policy"), now).covering
        return {**entry, "exceptions": [exception_brief(exception) for exception in covering]}

    async def list_deployments(request: Request) -> Response:
        async def handle() -> Response:
            allowed(request, "viewer")
            now = daemon.clock()
            _, active = await names_and_active(now)
            documents = await daemon.deployment_documents()
            return JSONResponse({"deployments": [with_exceptions(entry, active, now) for entry in documents]})

        return await answered(handle)

    async def get_deployment(request: Request) -> Response:
        async def handle() -> Response:
            allowed(request, "viewer")
            wanted = request.path_params["name_or_id"]
            now = daemon.clock()
            _, active = await names_and_active(now)
            documents = await daemon.deployment_documents()
            found = [d for d in documents if wanted in (d["deployment_id"], d["deployment_name"])]
            if not found:
                return error(404, f"no deployment is called {wanted!r} (by name or id)")
            if len(found) > 1:
                raise ambiguous(wanted, [(UUID(d["deployment_id"]), d["deployment_name"]) for d in found])
            return JSONResponse(with_exceptions(found[0], active, now))

        return await answered(handle)

    async def list_exceptions(request: Request) -> Response:
        async def handle() -> Response:
            allowed(request, "viewer")
            show_all = request.query_params.get("all", "false").lower()
            if show_all not in ("true", "false"):
                raise BodyError("must be true or false", field="all")
            now = daemon.clock()
            if show_all == "true":
                found = await asyncio.to_thread(daemon.store.all_exceptions)
            else:
                found = await asyncio.to_thread(daemon.store.active_exceptions, now)
            names = daemon.deployment_names()
            return JSONResponse({"exceptions": [exception_document(e, names, now) for e in found]})

        return await answered(handle)

    async def create_exception(request: Request) -> Response:
        async def handle() -> Response:
            caller = allowed(request, "operator")
            document = await read_json(request)
            wanted = parse_exception_request(document, daemon.clock())
            record = await record_exception(daemon, wanted, caller)
            return JSONResponse(exception_document(record, daemon.deployment_names(), daemon.clock()), status_code=201)

        return await answered(handle)

    async def get_exception(request: Request) -> Response:
        async def handle() -> Response:
            allowed(request, "viewer")
            key = request.path_params["exception_id"]
            found = await asyncio.to_thread(daemon.store.get_exception, key)
            if found is None:
                return error(404, f"no exception {key!r}")
            return JSONResponse(exception_document(found, daemon.deployment_names(), daemon.clock()))

        return await answered(handle)

    async def end_exception(request: Request) -> Response:
        async def handle() -> Response:
            caller = allowed(request, "operator")
            found = await end_exception_of(daemon, request.path_params["exception_id"], caller)
            return JSONResponse(exception_document(found, daemon.deployment_names(), daemon.clock()))

        return await answered(handle)

    return [
        Route("/api/v1/deployments", list_deployments, methods=["GET"]),
        Route("/api/v1/deployments/{name_or_id}", get_deployment, methods=["GET"]),
        Route("/api/v1/exceptions", list_exceptions, methods=["GET"]),
        Route("/api/v1/exceptions", create_exception, methods=["POST"]),
        Route("/api/v1/exceptions/{exception_id}", get_exception, methods=["GET"]),
        Route("/api/v1/exceptions/{exception_id}", end_exception, methods=["DELETE"]),
    ]
