"""The plain values the store takes and returns: applied states, audit records, health
tracks, exceptions (suspensions and overrides), backoffs, first sightings.

Every instant is a timezone-aware UTC ``datetime``; :func:`utc` turns an aware instant
in any zone into UTC and refuses a naive one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args
from uuid import UUID

from scaler.vocabulary import ACTION_RESULTS as ACTION_RESULTS
from scaler.vocabulary import FINAL_RESULTS as FINAL_RESULTS
from scaler.vocabulary import ActionResult as ActionResult

StateKind = Literal["stopped", "running", "bounds"]
STATE_KINDS: tuple[str, ...] = get_args(StateKind)


def utc(instant: datetime, name: str = "instant") -> datetime:
    """Return ``instant`` converted to UTC.

    Raises ``ValueError`` naming ``name`` when ``instant`` is naive (no time zone) or
    not a ``datetime``: the store never guesses the zone of a wall-clock reading.
    """
    if not isinstance(instant, datetime):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got the naive datetime {instant.isoformat()}")
    return instant.astimezone(UTC)


def check_json(value: Any, name: str) -> str:
    """Return ``value`` encoded as JSON text; raise ``ValueError`` naming ``name`` if it cannot be."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be JSON-serializable: {exc}") from None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True, slots=True)
class AppliedState:
    """What the scaler last applied to one deployment (the platform does not report it).

    ``kind`` is ``stopped``, ``running`` (started, replica bounds untouched) or
    ``bounds`` (running with ``min_replicas``..``max_replicas``). ``source`` says where
    the desired state came from (a window, a health rule, the default); ``action_id``
    is the audit record that applied it, filled in by the store.

    ``decided_at`` is the instant of the decision that applied it: the store never
    replaces (nor forgets) a state with one decided at an earlier instant, so a late
    writer (a former leader waking up) cannot undo a newer decision. ``remaining``
    names the calls of its plan not sent yet (``("start",)`` after the ``update_replicas``
    of a plan that also starts): the state's bounds are applied, the rest is still due.
    """

    kind: StateKind
    applied_at: datetime
    min_replicas: int | None = None
    max_replicas: int | None = None
    policy: str | None = None
    rule: str | None = None
    source: str = ""
    action_id: int | None = None
    decided_at: datetime | None = None
    remaining: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in STATE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(STATE_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "applied_at", utc(self.applied_at, "applied_at"))
        if self.decided_at is not None:
            object.__setattr__(self, "decided_at", utc(self.decided_at, "decided_at"))
        object.__setattr__(self, "remaining", tuple(self.remaining))
        if self.kind == "bounds":
            low, high = self.min_replicas, self.max_replicas
            if not (_is_count(low) and _is_count(high) and low <= high):  # type: ignore[operator]
                raise ValueError(f"a bounds state needs 0 <= min_replicas <= max_replicas, got {low}..{high}")
        elif self.min_replicas is not None or self.max_replicas is not None:
            raise ValueError(f"a {self.kind} state has no replica bounds")


@dataclass(frozen=True, slots=True)
class ActionIntent:
    """An action the daemon is about to take, recorded before the call is sent."""

    deployment_id: UUID
    deployment_name: str
    action: str
    started_at: datetime
    parameters: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    policy: str | None = None
    rule: str | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not self.action:
            raise ValueError("action must not be empty")
        object.__setattr__(self, "started_at", utc(self.started_at, "started_at"))
        check_json(dict(self.parameters), "parameters")


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """How an action ended. ``applied`` (success only) is the deployment's new applied state;
    ``state_unknown`` (not a success) says the call may or may not have taken effect, so the
    deployment's applied state is forgotten: nothing is on record until the desired state is
    applied again."""

    result: ActionResult
    finished_at: datetime
    platform_message: str | None = None
    request_id: str | None = None
    error_reason: str | None = None
    applied: AppliedState | None = None
    state_unknown: bool = False

    def __post_init__(self) -> None:
        if self.result not in FINAL_RESULTS:
            raise ValueError(f"an outcome's result must be one of {', '.join(FINAL_RESULTS)}, got {self.result!r}")
        object.__setattr__(self, "finished_at", utc(self.finished_at, "finished_at"))
        if self.applied is not None and self.result != "success":
            raise ValueError(f"only a successful action changes the applied state, not a {self.result} one")
        if self.state_unknown and self.result == "success":
            raise ValueError("a successful action's effect is known: state_unknown needs another result")


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One line of the audit log. ``finished_at`` is ``None`` while ``result`` is ``pending``."""

    id: int
    deployment_id: UUID
    deployment_name: str
    action: str
    parameters: dict[str, Any]
    reason: str
    policy: str | None
    rule: str | None
    result: ActionResult
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    platform_message: str | None
    request_id: str | None
    error_reason: str | None

    @property
    def pending(self) -> bool:
        """True while the action has no recorded outcome."""
        return self.result == "pending"


@dataclass(frozen=True, slots=True)
class HealthTrack:
    """The health the daemon last saw: ``value`` held since ``since``, last seen at ``last_observed``."""

    value: str
    since: datetime
    last_observed: datetime


@dataclass(frozen=True, slots=True)
class Saved:
    """A measured saving: GPU-seconds and dollars (0 where the accelerator has no price)."""

    gpu_seconds: float = 0.0
    dollars: float = 0.0

    @property
    def gpu_hours(self) -> float:
        """The GPU-seconds in GPU-hours."""
        return self.gpu_seconds / 3600.0

    def __add__(self, other: Saved) -> Saved:
        return Saved(self.gpu_seconds + other.gpu_seconds, self.dollars + other.dollars)


@dataclass(frozen=True, slots=True)
class HealthChange:
    """One entry of a deployment's health history: ``value`` held from ``since`` until ``until``
    (``None``: it still holds)."""

    value: str
    since: datetime
    until: datetime | None

    def lasted(self, now: datetime) -> timedelta:
        """How long the value held (up to ``now`` while it still holds)."""
        return (self.until or now) - self.since


@dataclass(frozen=True, slots=True)
class SeenDeployment:
    """A deployment the scaler has seen: its name as last listed, and when it was first seen."""

    deployment_id: UUID
    name: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Suspension:
    """A person took a deployment out of automation until ``until``."""

    deployment_id: UUID
    deployment_name: str
    until: datetime
    reason: str
    created_at: datetime
    created_by: str

    def active(self, now: datetime) -> bool:
        """True while ``now`` is before ``until``."""
        return utc(now, "now") < self.until


#: The longest exception: exceptions are temporary by design (for longer, the policy says it).
MAX_EXCEPTION_LENGTH = timedelta(days=30)

ExceptionKind = Literal["suspend", "override"]
EXCEPTION_KINDS: tuple[str, ...] = get_args(ExceptionKind)
TargetKind = Literal["deployment", "policy", "all"]
TARGET_KINDS: tuple[str, ...] = get_args(TargetKind)


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """A person's temporary exception to the policies: a suspension (hands off) or an override
    (a desired state kept until ``until``).

    ``target_kind`` is ``deployment`` (``target`` is its id, ``target_name`` its name then),
    ``policy`` (``target`` is the policy's name) or ``all`` (``target`` is ``None``);
    ``deployment_ids`` are the deployments the target named when it was created. ``state``
    (overrides only) is ``running``, ``stopped`` or ``min=N max=M``. An exception ends at
    ``until``, or earlier when a person ends it (``ended_at``, ``ended_by``).
    """

    id: str
    kind: ExceptionKind
    target_kind: TargetKind
    target: str | None
    deployment_ids: tuple[UUID, ...]
    created_at: datetime
    until: datetime
    reason: str
    created_by: str
    state: str | None = None
    target_name: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXCEPTION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(EXCEPTION_KINDS)}, got {self.kind!r}")
        if self.target_kind not in TARGET_KINDS:
            raise ValueError(f"target_kind must be one of {', '.join(TARGET_KINDS)}, got {self.target_kind!r}")
        if (self.target_kind == "all") != (self.target is None):
            raise ValueError("only an exception of all deployments has no target")
        if (self.kind == "override") != (self.state is not None):
            raise ValueError("an override needs a state, and only an override has one")
        if (self.ended_at is None) != (self.ended_by is None):
            raise ValueError("ended_at and ended_by go together")
        if not self.reason.strip():
            raise ValueError("reason must not be empty")
        object.__setattr__(self, "created_at", utc(self.created_at, "created_at"))
        object.__setattr__(self, "until", utc(self.until, "until"))
        if self.until <= self.created_at:
            raise ValueError("until must be after created_at")
        if self.ended_at is not None:
            object.__setattr__(self, "ended_at", utc(self.ended_at, "ended_at"))
        object.__setattr__(self, "deployment_ids", tuple(self.deployment_ids))

    def active(self, now: datetime) -> bool:
        """True while ``now`` is before ``until`` and no one has ended it."""
        return self.ended_at is None and utc(now, "now") < self.until

    def ends_at(self) -> datetime:
        """When it ended or ends: ``ended_at`` if a person ended it, else ``until``."""
        return self.ended_at if self.ended_at is not None else self.until


@dataclass(frozen=True, slots=True)
class Backoff:
    """The daemon holds off a deployment until ``until`` after ``failures`` consecutive failures."""

    deployment_id: UUID
    until: datetime
    failures: int
    reason: str
