"""The control API's deployment routes (``/_sim/deployments``): add, describe and change deployments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from scaler.sim.control_requests import ControlError, deployment_of, described, read_json, read_object
from scaler.sim.fields import is_int, is_number
from scaler.sim.seed import parse_deployment, parse_health, parse_timeline
from scaler.sim.state import SimState

#: Simulator fields that ``PATCH /_sim/deployments/{id}`` may change.
PATCHABLE = (
    "min_replicas",
    "max_replicas",
    "running",
    "startup_seconds",
    "delete_seconds",
    "refuse_min_zero",
    "deletion_failures",
    "failed_deletion_attempts",
)


async def list_deployments(state: SimState, request: Request) -> list[dict[str, Any]]:
    """``GET /_sim/deployments``: every deployment's full simulated state."""
    return [described(state, deployment) for deployment in state.deployments.values()]


async def add_deployments(state: SimState, request: Request) -> dict[str, Any]:
    """``POST /_sim/deployments``: add one deployment, a list, or ``{"deployments": [...]}`` (seed shape)."""
    body = await read_json(request)
    if isinstance(body, Mapping) and set(body) == {"deployments"}:
        body = body["deployments"]
    items = body if isinstance(body, list) else [body]
    seeds = [parse_deployment(item, source="body", where=f"deployments[{index}]") for index, item in enumerate(items)]
    added = state.add_deployments(seeds)
    return {"added": [described(state, deployment) for deployment in added]}


async def describe_deployment(state: SimState, request: Request) -> dict[str, Any]:
    """``GET /_sim/deployments/{id}``: the deployment's full simulated state (hidden bounds included)."""
    return described(state, deployment_of(state, request))


async def patch_deployment(state: SimState, request: Request) -> dict[str, Any]:
    """``PATCH /_sim/deployments/{id}``: change simulator fields, with no platform checks (quota, wallet)."""
    deployment = deployment_of(state, request)
    body = await read_object(request, PATCHABLE)
    now = state.now()
    state.settle_one(deployment, now)
    low = body.get("min_replicas", deployment.min_replicas)
    high = body.get("max_replicas", deployment.max_replicas)
    for name, value, minimum in (("min_replicas", low, 0), ("max_replicas", high, 1)):
        if not is_int(value) or value < minimum:
            raise ControlError(400, f"{name}: must be a whole number >= {minimum}, not {value!r}")
    if low > high:
        raise ControlError(400, f"min_replicas: {low} is above max_replicas ({high})")
    for name in ("running", "refuse_min_zero"):
        if name in body and not isinstance(body[name], bool):
            raise ControlError(400, f"{name}: must be true or false")
    for name in ("startup_seconds", "delete_seconds"):
        if name in body and (not is_number(body[name]) or body[name] < 0):
            raise ControlError(400, f"{name}: must be a number of seconds >= 0")
    for name in ("deletion_failures", "failed_deletion_attempts"):
        if name in body and (not is_int(body[name]) or body[name] < 0):
            raise ControlError(400, f"{name}: must be a whole number >= 0")
    for name in ("startup_seconds", "delete_seconds"):
        if name in body:
            setattr(deployment, name, float(body[name]))
    state.timing_changed(deployment, now)
    for name in ("refuse_min_zero", "deletion_failures", "failed_deletion_attempts"):
        if name in body:
            setattr(deployment, name, body[name])
    if "min_replicas" in body or "max_replicas" in body:
        state.set_bounds(deployment, low, high, now)
    if body.get("running") is True:
        state.start(deployment, now)
    elif body.get("running") is False:
        state.stop(deployment, now)
    return described(state, deployment)


async def set_health(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/deployments/{id}/health``: make fetch-status answer ``{data, pods?, messages?}``."""
    deployment = deployment_of(state, request)
    state.settle_one(deployment, state.now())
    state.set_health(deployment, parse_health(await read_json(request), source="body"))
    return described(state, deployment)


async def clear_health(state: SimState, request: Request) -> dict[str, Any]:
    """``DELETE /_sim/deployments/{id}/health``: back to the health the state implies."""
    deployment = deployment_of(state, request)
    state.settle_one(deployment, state.now())
    state.set_health(deployment, None)
    return described(state, deployment)


async def set_timeline(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/deployments/{id}/health-timeline``: script health steps relative to now (replaces any script)."""
    deployment = deployment_of(state, request)
    body = await read_json(request)
    if isinstance(body, Mapping) and set(body) == {"timeline"}:
        body = body["timeline"]
    state.set_timeline(deployment, parse_timeline(body, source="body", where="timeline"), state.now())
    return described(state, deployment)


async def set_status(state: SimState, request: Request) -> dict[str, Any]:
    """``PUT /_sim/deployments/{id}/status``: set the status as a person or the platform would."""
    deployment = deployment_of(state, request)
    body = await read_object(request, ("status",))
    status = body.get("status")
    if not isinstance(status, str) or not status:
        raise ControlError(400, "status: must be a non-empty string")
    now = state.now()
    state.settle_one(deployment, now)
    state.set_status(deployment, status, now)
    return described(state, deployment)
