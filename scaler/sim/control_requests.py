"""What every handler of the simulator's control API shares: reading bodies, naming a deployment, answering.

A request that cannot be carried out raises :class:`ControlError`, answered with its status
and ``{"error": "<field>: <problem>"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from scaler.sim.deployment import SimDeployment
from scaler.sim.platform import canonical_id
from scaler.sim.state import SimState


class ControlError(Exception):
    """A control request cannot be carried out; answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_json(request: Request) -> Any:
    """The request's JSON body (``None`` when empty)."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"body: not valid JSON: {exc}") from None


async def read_object(request: Request, known: tuple[str, ...]) -> Mapping[str, Any]:
    """The request's body: a JSON object of ``known`` fields only."""
    body = await read_json(request)
    if not isinstance(body, Mapping):
        raise ControlError(400, f"body: must be a JSON object with {', '.join(known)}")
    for key in body:
        if key not in known:
            raise ControlError(400, f"{key}: unknown field (known fields: {', '.join(known)})")
    return body


def deployment_of(state: SimState, request: Request) -> SimDeployment:
    """The deployment the path names (404 when there is none)."""
    raw = request.path_params["deployment_id"]
    deployment_id = canonical_id(raw)
    deployment = state.get(deployment_id) if deployment_id else None
    if deployment is None:
        raise ControlError(404, f"no deployment {raw}")
    return deployment


def described(state: SimState, deployment: SimDeployment) -> dict[str, Any]:
    """``deployment``'s full simulated state, as of now."""
    now = state.now()
    state.settle(now)
    state.settle_one(deployment, now)
    return deployment.describe(now, deleted_listed_seconds=state.deleted_listed_seconds)


def clock_view(state: SimState) -> dict[str, Any]:
    """The simulated time and the offset added to the real clock."""
    return {"now": state.now().isoformat(), "offset_seconds": state.clock_offset.total_seconds()}
