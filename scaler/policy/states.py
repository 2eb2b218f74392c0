"""What a policy wants a deployment to look like: :class:`DesiredState`, and the state
field of a policy file (``stopped``, ``running`` or ``{min_replicas, max_replicas}``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    StrictInt,
    Tag,
    model_validator,
)

#: Most replicas a policy may ask for or count (bounds and baseline_replicas). No GPU
#: deployment runs anywhere near this many, so a larger number is a typo; the bound also
#: keeps every GPU-hour and cost computed from replicas a finite number.
MAX_REPLICAS = 10_000

class DesiredState(BaseModel):
    """What a deployment should look like: ``stopped``, ``running`` (bounds left alone) or ``bounds``.

    ``bounds`` means running with ``min_replicas``/``max_replicas`` (the API's rules:
    min >= 0, max >= 1, min <= max); the two are ``None`` for the other kinds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["stopped", "running", "bounds"]
    min_replicas: int | None = None
    max_replicas: int | None = None

    @model_validator(mode="after")
    def _bounds_only_for_bounds(self) -> DesiredState:
        has_bounds = self.min_replicas is not None or self.max_replicas is not None
        if self.kind != "bounds":
            if has_bounds:
                raise ValueError(f"a {self.kind} state has no replica bounds")
            return self
        if self.min_replicas is None or self.max_replicas is None:
            raise ValueError("a bounds state needs both min_replicas and max_replicas")
        _check_bounds(self.min_replicas, self.max_replicas)
        return self

    @classmethod
    def stopped(cls) -> DesiredState:
        """Return the stopped state."""
        return _STOPPED

    @classmethod
    def running(cls) -> DesiredState:
        """Return the running state (start if stopped, bounds left alone)."""
        return _RUNNING

    @classmethod
    def bounds(cls, min_replicas: int, max_replicas: int) -> DesiredState:
        """Return the running-with-bounds state; raises ``ValueError`` when the bounds break the API's rules."""
        return cls(kind="bounds", min_replicas=min_replicas, max_replicas=max_replicas)

    @classmethod
    def from_description(cls, text: str) -> DesiredState:
        """Return the state written by :meth:`describe`; raises ``ValueError`` for anything else."""
        if text == "stopped":
            return _STOPPED
        if text == "running":
            return _RUNNING
        parts = dict(part.split("=", 1) for part in text.split() if "=" in part)
        if set(parts) != {"min", "max"} or len(text.split()) != 2:
            raise ValueError(f"{text!r} is not a state description (stopped, running or 'min=N max=M')")
        return cls.bounds(int(parts["min"]), int(parts["max"]))

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, DesiredState):
            return NotImplemented
        return (self.kind, self.min_replicas, self.max_replicas) == (other.kind, other.min_replicas, other.max_replicas)

    def __hash__(self) -> int:
        return hash((self.kind, self.min_replicas, self.max_replicas))

    @property
    def is_running(self) -> bool:
        """Whether the deployment should be running (``running`` or ``bounds``)."""
        return self.kind != "stopped"

    def describe(self) -> str:
        """Return ``stopped``, ``running`` or ``min=N max=M``."""
        if self.kind == "bounds":
            return f"min={self.min_replicas} max={self.max_replicas}"
        return self.kind

    def __str__(self) -> str:
        return self.describe()


def _check_bounds(min_replicas: int, max_replicas: int) -> None:
    if min_replicas < 0:
        raise ValueError(f"min_replicas must be 0 or more, got {min_replicas}")
    if max_replicas < 1:
        raise ValueError(f"max_replicas must be 1 or more, got {max_replicas}")
    if max_replicas > MAX_REPLICAS:
        raise ValueError(f"max_replicas must be at most {MAX_REPLICAS}, got {max_replicas}")
    if min_replicas > max_replicas:
        raise ValueError(f"min_replicas ({min_replicas}) must not exceed max_replicas ({max_replicas})")


_STOPPED = DesiredState(kind="stopped")
_RUNNING = DesiredState(kind="running")


class BoundsSpec(BaseModel):
    """``{min_replicas: N, max_replicas: M}`` as written in a policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Bounds")

    min_replicas: Annotated[StrictInt, Field(ge=0, le=MAX_REPLICAS, description="Minimum pods kept running (>= 0).")]
    max_replicas: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICAS, description="Maximum pods allowed (>= 1).")]

    @model_validator(mode="after")
    def _min_not_above_max(self) -> BoundsSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})"
            )
        return self


STATE_EXPECTED = "expected stopped, running or {min_replicas: N, max_replicas: M}"


def _state_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "<name>"
    if isinstance(value, dict):
        return "<bounds>"
    return None


def _to_desired(value: str | BoundsSpec) -> DesiredState:
    if isinstance(value, BoundsSpec):
        return DesiredState.bounds(value.min_replicas, value.max_replicas)
    return DesiredState.stopped() if value == "stopped" else DesiredState.running()


StateField = Annotated[
    Union[
        Annotated[Literal["stopped", "running"], Tag("<name>")],
        Annotated[BoundsSpec, Tag("<bounds>")],
    ],
    Discriminator(_state_tag, custom_error_type="state_type", custom_error_message=STATE_EXPECTED),
    AfterValidator(_to_desired),
    PlainSerializer(lambda state: state.describe() if state.kind != "bounds" else {
        "min_replicas": state.min_replicas, "max_replicas": state.max_replicas}),
]
"""A state as written in a file; validated into a :class:`DesiredState`."""
