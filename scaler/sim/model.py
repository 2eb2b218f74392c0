"""Plain data of the simulated platform: health answers, scripted health timelines, seed documents.

These are the simulator's own types, deliberately independent of the client's models.
``SeedDocument`` is what :mod:`scaler.sim.seed` parses and what
:meth:`scaler.sim.state.SimState.from_seed` builds an organization from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scaler.sim.constants import DEPLOYED


class _Derived:
    """Marker: "not given; use what the deployment would report anyway"."""

    _instance: _Derived | None = None

    def __new__(cls) -> _Derived:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DERIVED"


#: A health field that was not given: pods as the deployment's state implies, the value's usual message.
DERIVED: Any = _Derived()


@dataclass(frozen=True)
class HealthAnswer:
    """What fetch-status answers for a deployment whose health was set or scripted.

    ``pods`` is a ``{"ready": n, "not_ready": m}`` dict, ``None`` to leave the field out of
    the answer, or :data:`DERIVED` for the pods the deployment's state implies.
    ``messages`` is a list of ``{"message", "severity"}`` dicts or :data:`DERIVED` for the
    value's usual message (none for a value outside the contract's list).
    """

    data: Any
    pods: Any = DERIVED
    messages: Any = DERIVED

    def to_json(self) -> dict[str, Any]:
        """Return the answer as the control API shows it (derived fields left out)."""
        shown: dict[str, Any] = {"data": self.data}
        if self.pods is not DERIVED:
            shown["pods"] = self.pods
        if self.messages is not DERIVED:
            shown["messages"] = self.messages
        return shown


@dataclass(frozen=True)
class TimelineEntry:
    """One step of a scripted health timeline: ``health`` applies ``after_seconds`` after it was scripted."""

    after_seconds: float
    health: HealthAnswer


@dataclass(frozen=True)
class SeedDeployment:
    """One deployment of a seed document: the list response's fields plus the simulator's own."""

    deployment_id: str
    deployment_name: str
    model_repo_id: str | None
    model_repo_name: str
    model_type: str = "custom"
    accelerator_type: tuple[str, ...] = ("nvidia-tesla-t4",)
    accelerator_count: int = 1
    status: str = DEPLOYED
    min_replicas: int = 1
    max_replicas: int = 1
    running: bool = True
    startup_seconds: float | None = None
    delete_seconds: float | None = None
    health: HealthAnswer | None = None
    health_timeline: tuple[TimelineEntry, ...] = ()
    refuse_min_zero: bool = False
    deletion_failures: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedDocument:
    """A whole simulated organization: who it is, its quotas, wallet and deployments.

    ``org_id`` and ``token`` are ``None`` when the seed leaves them to the simulator's
    configuration (``DEFAULT_ORG_ID`` and ``DEFAULT_TOKEN`` unless told otherwise).
    """

    deployments: tuple[SeedDeployment, ...] = ()
    org_id: str | None = None
    token: str | None = None
    quotas: dict[str, int | None] = field(default_factory=dict)
    wallet_blocked: bool = False
    source: str = "<seed>"
