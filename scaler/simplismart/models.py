"""Typed views of the Deployment Lifecycle API's requests and responses.

Parsing is tolerant: fields the platform adds are ignored, and a status or health
value this version does not know is kept as an explicit unknown value (with the raw
text beside it) instead of failing. The aliases ``PENDING`` (= DEPLOYING) and
``STOPPED`` (= SCALED_DOWN) used by the platform's CLI documentation are accepted.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    computed_field,
    field_validator,
    model_validator,
)

# The statuses and health values are the vocabulary's (every layer names them); the models read them.
from scaler.vocabulary import DeploymentStatus as DeploymentStatus
from scaler.vocabulary import HealthStatus as HealthStatus

#: Statuses in which the platform accepts lifecycle calls for a deployment.
ACTIVE_STATUSES = frozenset({DeploymentStatus.DEPLOYED, DeploymentStatus.SCALED_DOWN})

#: The health values the contract documents (those a policy may name).
DOCUMENTED_HEALTH = tuple(h for h in HealthStatus if h is not HealthStatus.UNRECOGNIZED)


#: Each status by its exact text, as the platform writes it: a list answer's statuses are read
#: with one lookup, and only other spellings (aliases, case, spaces, unknown values) are parsed.
_STATUS_BY_TEXT = {status.value: status for status in DeploymentStatus}

#: Largest count believed in an answer (accelerators per replica, pods). Far above any
#: real deployment; a larger number is a damaged answer, and believing it would make the
#: GPU-hour and cost arithmetic built on it overflow. An item holding one is malformed.
MAX_REPORTED_COUNT = 1_000_000


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Deployment(_Lenient):
    """One deployment of the organization, as the list endpoint returns it."""

    deployment_id: UUID
    deployment_name: str
    model_repo_id: UUID | None = None
    model_repo_name: str | None = None
    model_type: str | None = None
    accelerator_type: tuple[str, ...] = ()
    accelerator_count: int = Field(default=1, ge=0, le=MAX_REPORTED_COUNT)
    status: DeploymentStatus = DeploymentStatus.UNKNOWN
    status_raw: str = ""

    @model_validator(mode="before")
    @classmethod
    def _read_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "status_raw" not in data:
            raw = data.get("status")
            data = dict(data)
            data["status_raw"] = raw if isinstance(raw, str) else ""
            data["status"] = (
                _STATUS_BY_TEXT.get(raw) or DeploymentStatus.parse(raw)
                if isinstance(raw, str)
                else DeploymentStatus.UNKNOWN
            )
        return data

    @field_validator("accelerator_type", mode="before")
    @classmethod
    def _accelerators_as_tuple(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        return value

    @property
    def accelerator(self) -> str:
        """The first accelerator type (the one used for pricing), or ``"unknown"``."""
        return self.accelerator_type[0] if self.accelerator_type else "unknown"


class HealthMessage(_Lenient):
    """A human-readable message attached to a health answer (a bare string is accepted too)."""

    message: str = ""
    severity: str = "info"

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"message": data}
        return data


class Pods(_Lenient):
    """Pod readiness counts."""

    ready: int = Field(default=0, ge=0, le=MAX_REPORTED_COUNT)
    not_ready: int = Field(default=0, ge=0, le=MAX_REPORTED_COUNT)


class DeploymentHealth(_Lenient):
    """The answer of ``fetch-status``: aggregated health, messages, optional pods."""

    status: HealthStatus = Field(alias="data")
    status_raw: str = ""
    messages: tuple[HealthMessage, ...] = ()
    pods: Pods | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_data(cls, data: Any) -> Any:
        if isinstance(data, dict) and "status_raw" not in data:
            raw = data.get("data")
            if not isinstance(raw, str):
                raise ValueError("field 'data' (the health value) must be a string")
            data = dict(data)
            data["status_raw"] = raw
            data["data"] = HealthStatus.parse(raw)
            if data.get("messages") is None:
                data["messages"] = ()
        return data


class UpdateReplicasRequest(BaseModel):
    """Body of ``update-replicas``; validated before it is sent (integers, not bools)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_replicas: StrictInt = Field(ge=0, description="Minimum pods to keep running.")
    max_replicas: StrictInt = Field(ge=1, description="Maximum pods allowed.")

    @model_validator(mode="after")
    def _min_not_above_max(self) -> UpdateReplicasRequest:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})"
            )
        return self


StartStopAction = Literal["start", "stop"]


class StartStopRequest(BaseModel):
    """Body of ``startstop``: the action and the organization the deployment belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: StartStopAction
    org: UUID


class UpdateReplicasResult(_Lenient):
    """Answer of ``update-replicas``; ``request_id`` is the ``X-Request-Id`` of the request that succeeded."""

    message: str = ""
    min_replicas: int | None = None
    max_replicas: int | None = None
    request_id: str | None = Field(default=None, exclude=True)


class StartStopResult(_Lenient):
    """Answer of ``startstop``; ``request_id`` is the ``X-Request-Id`` of the request that succeeded."""

    message: str = ""
    update_result: str | None = None
    request_id: str | None = Field(default=None, exclude=True)


class DeleteResult(_Lenient):
    """Answer of ``delete``; ``already_deleted`` tells the idempotent case apart; ``request_id``
    is the ``X-Request-Id`` of the request that succeeded."""

    message: str = ""
    request_id: str | None = Field(default=None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def already_deleted(self) -> bool:
        """True when the platform says the deployment was deleted before this call."""
        return "already" in self.message.casefold()
