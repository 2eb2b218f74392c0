"""The control API under ``/_sim/``: drive the simulated platform from tests, the demo and benchmarks.

JSON in and out, no authentication, never written to the request log. Errors
answer 400 ``{"error": "<field>: <problem>"}``, an unknown deployment 404, a
deployment id that is taken 409. The "Control API" section of docs/simulator.md lists every
endpoint with its body. The deployments' routes are in :mod:`scaler.sim.control_deployments`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scaler.sim.constants import ENDPOINTS
from scaler.sim.control_deployments import (
    add_deployments,
    clear_health,
    describe_deployment,
    list_deployments,
    patch_deployment,
    set_health,
    set_status,
    set_timeline,
)
from scaler.sim.control_requests import ControlError, clock_view, read_json, read_object
from scaler.sim.faults import (
    InvalidFault,
    parse_error_rate,
    parse_fail_next,
    parse_latency,
    parse_malformed,
)
from scaler.sim.fields import is_number
from scaler.sim.platform import canonical_id
from scaler.sim.seed import SeedError, parse_quotas, parse_seed
from scaler.sim.state import DuplicateDeployment, SimState

Handler = Callable[[SimState, Request], Coroutine[Any, Any, Any]]


def control_routes(state: SimState) -> list[Route]:
    """Return the routes of the control API for ``state`` (to mount under ``/_sim``)."""

    def route(path: str, handler: Handler, method: str, status: int = 200) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(state, request)
            except ControlError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except DuplicateDeployment as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            except (SeedError, InvalidFault, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(result, status_code=status)

        return Route(path, endpoint, methods=[method], name=f"{method} {path}")

    return [
        route("/", summary, "GET"),
        route("/seed", replace_seed, "POST"),
        route("/reset", reset, "POST"),
        route("/deployments", list_deployments, "GET"),
        route("/deployments", add_deployments, "POST", status=201),
        route("/deployments/{deployment_id}", describe_deployment, "GET"),
        route("/deployments/{deployment_id}", patch_deployment, "PATCH"),
        route("/deployments/{deployment_id}/health", set_health, "PUT"),
        route("/deployments/{deployment_id}/health", clear_health, "DELETE"),
        route("/deployments/{deployment_id}/health-timeline", set_timeline, "PUT"),
        route("/deployments/{deployment_id}/status", set_status, "PUT"),
        route("/faults", show_faults, "GET"),
        route("/faults", clear_faults, "DELETE"),
        route("/faults/latency", set_latency, "PUT"),
        route("/faults/errors", set_error_rate, "PUT"),
        route("/faults/fail-next", add_fail_next, "POST"),
        route("/faults/malformed", add_malformed, "POST"),
        route("/wallet", show_wallet, "GET"),
        route("/wallet", set_wallet, "PUT"),
        route("/quotas", show_quotas, "GET"),
        route("/quotas", set_quotas, "PUT"),
        route("/quotas", merge_quotas, "PATCH"),
        route("/requests", show_requests, "GET"),
        route("/requests", clear_requests, "DELETE"),
        route("/clock", show_clock, "GET"),
        route("/clock/advance", advance_clock, "POST"),
    ]


# --- Organization ---------------------------------------------------------------------


async def summary(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/``: the organization at a glance."""
    now = state.now()
    state.settle(now)
    statuses: dict[str, int] = {}
    for deployment in state.deployments.values():
        statuses[deployment.status] = statuses.get(deployment.status, 0) + 1
    return {
        "org_id": state.org_id,
        "seed": state.seed.source,
        "deployments": len(state.deployments),
        "statuses": statuses,
        "wallet_blocked": state.wallet_blocked,
        "quotas": state.quota_view(),
        "faults": state.faults.to_json(),
        "requests_logged": len(state.requests),
        "clock": clock_view(state),
    }


async def replace_seed(state: SimState, request: Request) -> dict[str, Any]:
    """``POST /_sim/seed``: replace the whole organization with a seed document (the new reset point)."""
    seed = parse_seed(await read_json(request), source="seed")
    state.load_seed(seed)
    return {"deployments": len(state.deployments), "org_id": state.org_id}


async def reset(state: SimState, request: Request) -> dict[str, Any]:
    """``POST /_sim/reset``: back to the last seed loaded."""
    state.reset()
    return {"deployments": len(state.deployments), "seed": state.seed.source}


# --- Faults ---------------------------------------------------------------------------


async def show_faults(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/faults``: every fault installed."""
    return state.faults.to_json()


async def clear_faults(state: SimState, request: Request) -> dict[str, Any]:
    """``DELETE /_sim/faults``: remove every fault."""
    state.faults.clear()
    return state.faults.to_json()


async def set_latency(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/faults/latency``: ``{fixed_ms, jitter_ms?, endpoints?}`` (zeros remove it)."""
    state.faults.latency = parse_latency(await read_json(request))
    return state.faults.to_json()


async def set_error_rate(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/faults/errors``: ``{rate, status, endpoints?, body?, headers?}`` (rate 0 removes it)."""
    state.faults.error_rate = parse_error_rate(await read_json(request))
    return state.faults.to_json()


async def add_fail_next(state: SimState, request: Request) -> dict[str, Any]:
    """``POST /_sim/faults/fail-next``: ``{endpoint?, count?, status, body?, headers?}``."""
    state.faults.fail_next.append(parse_fail_next(await read_json(request)))
    return state.faults.to_json()


async def add_malformed(state: SimState, request: Request) -> dict[str, Any]:
    """``POST /_sim/faults/malformed``: ``{kind, endpoint?, count?, status?, size_bytes?, bytes_per_second?}``."""
    state.faults.malformed.append(parse_malformed(await read_json(request)))
    return state.faults.to_json()


# --- Wallet, quotas ----------------------------------------------------------------------


async def show_wallet(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/wallet``: ``{"blocked": bool}``."""
    return {"blocked": state.wallet_blocked}


async def set_wallet(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/wallet``: ``{"blocked": true}`` blocks start/stop with 402, false unblocks."""
    body = await read_object(request, ("blocked",))
    if not isinstance(body.get("blocked"), bool):
        raise ControlError(400, "blocked: must be true or false")
    state.wallet_blocked = body["blocked"]
    return {"blocked": state.wallet_blocked}


async def show_quotas(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/quotas``: ``{accelerator: {"quota": gpus | null, "reserved": gpus}}``."""
    return state.quota_view()


async def set_quotas(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/quotas``: replace every quota with ``{accelerator: gpus}``."""
    quotas = parse_quotas(await read_json(request), source="body")
    state.quotas = {name: gpus for name, gpus in quotas.items() if gpus is not None}
    return state.quota_view()


async def merge_quotas(state: SimState, request: Request) -> dict[str, Any]:
    """``PATCH /_sim/quotas``: set the quotas named (``null`` removes one), keep the others."""
    for name, gpus in parse_quotas(await read_json(request), source="body").items():
        if gpus is None:
            state.quotas.pop(name, None)
        else:
            state.quotas[name] = gpus
    return state.quota_view()


# --- Request log, clock -------------------------------------------------------------------


async def show_requests(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/requests?endpoint=&deployment_id=&limit=``: logged platform requests, oldest first."""
    endpoint = request.query_params.get("endpoint") or None
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise ControlError(400, f"endpoint: must be one of {', '.join(ENDPOINTS)}")
    raw_limit = request.query_params.get("limit")
    limit = None
    if raw_limit:
        if not raw_limit.isdigit():
            raise ControlError(400, "limit: must be a whole number >= 0")
        limit = int(raw_limit)
    raw_id = request.query_params.get("deployment_id") or None
    deployment_id = (canonical_id(raw_id) or raw_id) if raw_id else None
    entries = state.requests.select(endpoint=endpoint, deployment_id=deployment_id, limit=limit)
    return {
        "total": state.requests.total,
        "kept": len(state.requests),
        "dropped": state.requests.dropped,
        "limit": state.requests.limit,
        "requests": [entry.to_json() for entry in entries],
    }


async def clear_requests(state: SimState, request: Request) -> dict[str, Any]:
    """``DELETE /_sim/requests``: forget every logged request."""
    state.requests.clear()
    return {"total": 0, "kept": 0, "dropped": 0, "limit": state.requests.limit, "requests": []}


async def show_clock(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/clock``: the simulated time and the offset added to the real clock."""
    return clock_view(state)


async def advance_clock(state: SimState, request: Request) -> dict[str, Any]:
    """``POST /_sim/clock/advance``: ``{"seconds": N}`` moves simulated time forward."""
    body = await read_object(request, ("seconds",))
    seconds = body.get("seconds")
    if not is_number(seconds) or seconds < 0:
        raise ControlError(400, "seconds: must be a number >= 0")
    state.advance_clock(seconds)
    return clock_view(state)
