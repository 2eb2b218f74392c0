"""The platform's five operations, as the contract documents them, over a :class:`SimState`.

Each function takes the state, the simulated instant, the raw deployment id of the
path and the parsed request body, and returns an :class:`Answer` (status and body).
HTTP concerns (auth, routing, faults, the request log, encoding) live in
:mod:`scaler.sim.app`; the platform's rules and texts live here.

Where the contract is silent the simulator decides, always the same way:

* a malformed deployment id is answered like an unknown one (404);
* the deployment is looked up before the body is validated;
* startstop on an unknown deployment answers 404 ``Deployment not found``, on a FAILED,
  DELETING or DELETED one 404 ``No active deployment found`` (as update-replicas does);
* delete of a deployment that is already DELETING answers 200 ``Deployment deleted successfully``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scaler.sim import constants as text
from scaler.sim.deployment import (
    ACTIVE,
    CREATING,
    LIFECYCLE_DELETED,
    LIFECYCLE_DELETING,
    SimDeployment,
)
from scaler.sim.fields import is_int
from scaler.sim.state import SimState

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class Answer:
    """A platform answer: HTTP status and body (JSON-able data, or bytes already encoded as JSON)."""

    status: int
    body: Any


def canonical_id(raw: str | None) -> str | None:
    """Return ``raw`` as a lowercase hyphenated UUID, or None when it is not one."""
    if raw is None or not _UUID.match(raw):
        return None
    return raw.lower()


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"error": message})


def list_deployments(state: SimState, now: datetime, query: Mapping[str, str]) -> Answer:
    """``GET /deployments/list/model/``: every listed deployment, or those of ``model_repo_id``."""
    repo = query.get("model_repo_id") or None
    if repo is not None:
        canonical = canonical_id(repo)
        if canonical is None:
            return _error(400, text.INVALID_MODEL_REPO_ID)
        repo = canonical
    return Answer(200, state.list_body(now, repo))


def fetch_status(state: SimState, now: datetime, raw_id: str | None) -> Answer:
    """``GET /deployments/model-deployment/fetch-status/{id}/``: the deployment's health."""
    if not raw_id:
        return _error(400, text.DEPLOYMENT_ID_REQUIRED)
    deployment = _lookup(state, raw_id)
    if deployment is None:
        return _error(404, text.DEPLOYMENT_NOT_FOUND)
    state.settle_one(deployment, now)
    if deployment.lifecycle == LIFECYCLE_DELETED:
        return _error(400, text.DEPLOYMENT_IS_DELETED)
    return Answer(200, deployment.health_answer(now))


def update_replicas(state: SimState, now: datetime, raw_id: str, body: Any) -> Answer:
    """``POST /deployments/{id}/update-replicas/``: new autoscaling bounds, validated and quota-checked."""
    deployment = _active(state, raw_id, now)
    if deployment is None:
        return _error(404, text.NO_ACTIVE_DEPLOYMENT)
    if not isinstance(body, Mapping):
        return _error(400, text.BODY_NOT_OBJECT)
    if "min_replicas" not in body or "max_replicas" not in body:
        return _error(400, text.REPLICAS_REQUIRED)
    low, high = body["min_replicas"], body["max_replicas"]
    if not is_int(low) or not is_int(high):
        return _error(400, text.REPLICAS_NOT_INTEGERS)
    if low < 0:
        return _error(400, text.MIN_REPLICAS_NEGATIVE)
    if high < 1:
        return _error(400, text.MAX_REPLICAS_TOO_SMALL)
    if low > high:
        return _error(400, text.MIN_ABOVE_MAX)
    if low == 0 and deployment.refuse_min_zero:
        return _error(400, text.MIN_ZERO_REFUSED)
    quota = state.quotas.get(deployment.accelerator)
    if (
        quota is not None
        and state.reserved_gpus(deployment.accelerator, replacing=deployment, max_replicas=high) > quota
    ):
        return _error(400, text.INSUFFICIENT_QUOTA)
    state.set_bounds(deployment, low, high, now)
    return Answer(200, {"message": text.REPLICAS_UPDATED, "min_replicas": low, "max_replicas": high})


def startstop(state: SimState, now: datetime, raw_id: str, body: Any) -> Answer:
    """``POST /deployments/{id}/startstop/``: pause or resume, refused while the wallet is blocked."""
    deployment = _lookup(state, raw_id)
    if deployment is None:
        return _error(404, text.DEPLOYMENT_NOT_FOUND)
    if _active(state, raw_id, now) is None:
        return _error(404, text.NO_ACTIVE_DEPLOYMENT)
    if not isinstance(body, Mapping):
        return _error(400, text.BODY_NOT_OBJECT)
    action = body.get("action")
    if action not in ("start", "stop"):
        return _error(400, text.INVALID_ACTION)
    org = body.get("org")
    if org is None or org == "":
        return _error(400, text.ORG_REQUIRED)
    if not isinstance(org, str) or org.lower() != state.org_id:
        return _error(400, text.ORG_MISMATCH)
    if state.wallet_blocked:
        return Answer(402, {"error": text.WALLET_BLOCKED})
    if action == "start":
        state.start(deployment, now)
        return Answer(200, {"message": text.STARTED, "update_result": "started"})
    state.stop(deployment, now)
    return Answer(200, {"message": text.STOPPED, "update_result": "stopped"})


def delete(state: SimState, now: datetime, raw_id: str) -> Answer:
    """``DELETE /deployments/{id}/delete/``: asynchronous, idempotent, with the three-failures rule."""
    deployment = _lookup(state, raw_id)
    if deployment is None:
        return _error(404, text.DEPLOYMENT_NOT_FOUND)
    state.settle_one(deployment, now)
    if deployment.lifecycle == LIFECYCLE_DELETED:
        return Answer(200, {"message": text.ALREADY_DELETED})
    if deployment.lifecycle == LIFECYCLE_DELETING:
        return Answer(200, {"message": text.DELETED_SUCCESSFULLY})
    if deployment.failed_deletion_attempts >= text.MAX_FAILED_DELETIONS:
        return _error(400, text.DELETION_FAILED_TOO_OFTEN)
    if deployment.deletion_failures > 0:
        deployment.deletion_failures -= 1
        deployment.failed_deletion_attempts += 1
        return _error(500, text.DELETION_FAILED)
    state.begin_deletion(deployment, now)
    return Answer(200, {"message": text.DELETED_SUCCESSFULLY})


def _lookup(state: SimState, raw_id: str | None) -> SimDeployment | None:
    deployment_id = canonical_id(raw_id)
    return state.get(deployment_id) if deployment_id is not None else None


def _active(state: SimState, raw_id: str, now: datetime) -> SimDeployment | None:
    """The deployment if it exists and is not FAILED, DELETING or DELETED, else None."""
    deployment = _lookup(state, raw_id)
    if deployment is None:
        return None
    state.settle_one(deployment, now)
    return deployment if deployment.lifecycle in (ACTIVE, CREATING) else None
