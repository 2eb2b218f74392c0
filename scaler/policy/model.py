"""The policy language as immutable, validated models.

Files are validated with these models (one :class:`PolicyFile` per YAML file, one
:class:`Policy` per entry); :mod:`scaler.policy.loader` maps every validation error to
its file and line and adds the checks that span fields, policies and files. Field
values are parsed into their meaning on the way in: a ``cron`` becomes a
:class:`~scaler.policy.cron.CronSchedule`, a duration a ``timedelta``, a state a
:class:`DesiredState`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from scaler.policy.between import BetweenSpec, parse_between
from scaler.policy.cron import CronSchedule, parse_cron
from scaler.policy.dates import DateRange, DateSet, parse_date_range, parse_local_datetime
from scaler.policy.durations import format_duration, parse_duration
from scaler.policy.holiday_calendars import HolidayCalendar, check_categories, check_country, check_subdivision
from scaler.policy.icalendars import CalendarFile
from scaler.policy.skipdays import SkipDays
from scaler.policy.zones import zone
from scaler.simplismart.models import DOCUMENTED_HEALTH, HealthStatus

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
NAME_MAX = 63
FORMAT_VERSION = 1
#: Most replicas a policy may ask for or count (bounds and baseline_replicas). No GPU
#: deployment runs anywhere near this many, so a larger number is a typo; the bound also
#: keeps every GPU-hour and cost computed from replicas a finite number.
MAX_REPLICAS = 10_000

# --------------------------------------------------------------------------- states


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

# --------------------------------------------------------------------------- scalars


def _text_validator(parse, expected: str):
    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected {expected}, got {describe_value(value)}")
        return parse(value)

    return validate


def describe_value(value: Any) -> str:
    """Return how a value read from a file is named in an error message (``'high'``, ``the number 3``, ``a list``)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:57] + "...")
    return repr(value)


def _duration_type(*, minimum: timedelta, maximum: timedelta, description: str, alternative: str = ""):
    """A duration field from ``minimum`` to ``maximum``; ``alternative`` names what else the field takes."""

    def validate(value: Any) -> timedelta:
        if isinstance(value, timedelta):
            duration = value
        elif isinstance(value, str):
            try:
                duration = parse_duration(value)
            except ValueError as exc:
                raise ValueError(f"{exc}{alternative}") from None
        else:
            raise ValueError(
                f"expected a duration such as 30s, 10m, 8h, 7d or 1h30m{alternative}, got {describe_value(value)}"
            )
        if duration < minimum:
            raise ValueError(f"must be at least {format_duration(minimum)}, got {format_duration(duration)}")
        if duration > maximum:
            raise ValueError(f"must be at most {format_duration(maximum)}, got {format_duration(duration)}")
        return duration

    return Annotated[
        timedelta,
        PlainValidator(validate),
        PlainSerializer(format_duration, return_type=str),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$",
                "description": f"{description} A duration such as 30s, 10m, 8h, 7d or 1h30m "
                f"(from {format_duration(minimum)} to {format_duration(maximum)}).",
            }
        ),
    ]


WindowDuration = _duration_type(
    minimum=timedelta(minutes=1), maximum=timedelta(days=366), description="How long the window stays open (elapsed time)."
)
LeadTime = _duration_type(
    minimum=timedelta(0),
    maximum=timedelta(days=7),
    description="Open the window this much earlier.",
    alternative=", or auto (learned from the deployment's start-ups)",
)
AutoLeadBound = _duration_type(
    minimum=timedelta(0), maximum=timedelta(days=7), description="A bound of the learned lead time."
)
HoldTime = _duration_type(
    minimum=timedelta(0), maximum=timedelta(days=7), description="How long a health value must hold."
)
RecoverTime = _duration_type(
    minimum=timedelta(0), maximum=timedelta(days=7), description="Healthy this long before a rule with a state lets go."
)
Cooldown = _duration_type(
    minimum=timedelta(0), maximum=timedelta(days=7), description="Quiet time after the rule lets go or restarts."
)
GracePeriod = _duration_type(
    minimum=timedelta(0),
    maximum=timedelta(days=7),
    description="How long a deployment that appears after the scaler's first inventory is left alone "
    "(0s: no grace); overrides SCALER_NEW_DEPLOYMENT_GRACE_SECONDS.",
)
ExpireAfter = _duration_type(
    minimum=timedelta(minutes=1), maximum=timedelta(days=3660), description="Age at which a deployment is deleted."
)

Name = Annotated[StrictStr, Field(pattern=NAME_PATTERN, min_length=1, max_length=NAME_MAX)]
Price = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
"""$ per GPU-hour: a finite number, 0 or more."""
Glob = Annotated[StrictStr, Field(min_length=1, max_length=256)]
Accelerator = Annotated[StrictStr, Field(min_length=1, max_length=64)]

CronField = Annotated[
    CronSchedule,
    PlainValidator(_text_validator(parse_cron, "a crontab expression such as \"0 9 * * 1-5\"")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "When the window opens: a 5-field crontab (minute hour day-of-month month day-of-week); L and L-n in day-of-month, DAY#n and DAYL in day-of-week."}),
]
BetweenField = Annotated[
    BetweenSpec,
    PlainValidator(_text_validator(parse_between, 'a window such as "Mon-Fri 20:00-08:00"')),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "[DAYS ]HH:MM-HH:MM in wall-clock time, e.g. \"Mon-Fri 20:00-08:00\"."}),
]
LocalDateTimeField = Annotated[
    datetime,
    PlainValidator(_text_validator(parse_local_datetime, 'a date and time such as "2026-12-24T00:00"')),
    PlainSerializer(lambda value: value.isoformat(timespec="minutes"), return_type=str),
    WithJsonSchema({"type": "string", "description": "Local date and time in the policy's zone, e.g. \"2026-12-24T00:00\"; an offset is allowed."}),
]
DateRangeField = Annotated[
    DateRange,
    PlainValidator(_text_validator(parse_date_range, 'a date "YYYY-MM-DD" or a range "YYYY-MM-DD..YYYY-MM-DD"')),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})?$"}),
]


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an IANA time zone name such as Europe/Berlin, got {describe_value(value)}")
    zone(value)
    return value


ZoneName = Annotated[
    str,
    PlainValidator(_timezone),
    WithJsonSchema({"type": "string", "description": "IANA time zone, e.g. Europe/Berlin; default UTC."}),
]

#: The key of the validation context holding the function that reads a policy's calendar files.
CALENDAR_READER = "read_calendar"


def _calendar_file(value: Any, info: ValidationInfo) -> CalendarFile:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"expected the path of an iCalendar (.ics) file, relative to the policy file, got {describe_value(value)}"
        )
    read = (info.context or {}).get(CALENDAR_READER)
    if read is None:
        raise ValueError("calendar files are read only when policies are loaded from their files")
    return read(value)


CalendarFileField = Annotated[
    CalendarFile,
    PlainValidator(_calendar_file),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "description": "Path of an iCalendar (.ics) file, relative to the policy file."}
    ),
]

#: Health values a rule may wait for (every documented value except Healthy, which ends a rule).
TRIGGER_HEALTH = tuple(h for h in DOCUMENTED_HEALTH if h is not HealthStatus.HEALTHY)


def _trigger_health(value: Any) -> HealthStatus:
    allowed = ", ".join(h.value for h in TRIGGER_HEALTH)
    if isinstance(value, str):
        for health in TRIGGER_HEALTH:
            if health.value == value:
                return health
        if value == HealthStatus.HEALTHY.value:
            raise ValueError(f"a rule cannot wait for Healthy: Healthy is what ends a rule; expected one of {allowed}")
        for health in TRIGGER_HEALTH:
            if health.value.casefold() == value.casefold():
                raise ValueError(f"unknown health status {value!r}; did you mean {health.value}? expected one of {allowed}")
    raise ValueError(f"unknown health status {describe_value(value)}; expected one of {allowed}")


TriggerHealth = Annotated[
    HealthStatus,
    PlainValidator(_trigger_health),
    PlainSerializer(lambda value: value.value, return_type=str),
    WithJsonSchema({"enum": [h.value for h in TRIGGER_HEALTH], "description": "Health value that triggers the rule."}),
]

# --------------------------------------------------------------------------- policy parts


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False, hide_input_in_errors=True)


class Match(_Strict):
    """Which deployments a policy selects: fields are ANDed, entries of one list ORed."""

    names: tuple[Glob, ...] = Field(default=(), description="Globs on deployment_name.")
    ids: tuple[UUID, ...] = Field(default=(), description="Deployment UUIDs.")
    model_repo_ids: tuple[UUID, ...] = Field(default=(), description="Container (model repo) UUIDs.")
    model_repo_names: tuple[Glob, ...] = Field(default=(), description="Globs on model_repo_name.")
    accelerator_types: tuple[Accelerator, ...] = Field(
        default=(), description="Matches if any of the deployment's accelerator types is listed."
    )
    exclude_names: tuple[Glob, ...] = Field(
        default=(), description="Globs on deployment_name; an excluded deployment is never touched by this policy."
    )

    @cached_property
    def id_set(self) -> frozenset[UUID]:
        """``ids`` as a set: membership in constant time, however many ids a policy lists."""
        return frozenset(self.ids)

    @property
    def selects_anything(self) -> bool:
        """Whether at least one positive selector is given (exclusions alone select nothing)."""
        return bool(self.names or self.ids or self.model_repo_ids or self.model_repo_names or self.accelerator_types)


class AutoLeadTime(_Strict):
    """``lead_time: auto``: the lead time learned from the deployment's observed start-up times."""

    model_config = ConfigDict(title="AutoLeadTime")

    auto: Literal[True] = Field(description="Learn the lead time from observed start-ups.")
    minimum: AutoLeadBound = Field(default=timedelta(minutes=1), alias="min")
    maximum: AutoLeadBound = Field(default=timedelta(hours=2), alias="max")
    initial: AutoLeadBound = Field(
        default=timedelta(minutes=15), description="Used until three start-ups have been observed."
    )

    @model_validator(mode="before")
    @classmethod
    def _auto_alone(cls, data: Any) -> Any:
        return {"auto": True} if data == "auto" else data

    @model_validator(mode="after")
    def _min_not_above_max(self) -> AutoLeadTime:
        if self.minimum > self.maximum:
            raise ValueError(
                f"min ({format_duration(self.minimum)}) must not exceed max ({format_duration(self.maximum)})"
            )
        return self

    def bounded(self, lead: timedelta) -> timedelta:
        """``lead`` within ``min``..``max``."""
        return min(max(lead, self.minimum), self.maximum)


def _lead_time_tag(value: Any) -> str:
    return "<auto>" if value == "auto" or isinstance(value, dict) else "<duration>"


LeadTimeField = Annotated[
    Union[
        Annotated[LeadTime, Tag("<duration>")],
        Annotated[AutoLeadTime, Tag("<auto>")],
    ],
    Discriminator(_lead_time_tag),
]
"""A window's ``lead_time``: a duration, ``auto`` or ``{auto: true, min, max, initial}``."""


class Window(_Strict):
    """A period in which the policy wants ``state``; exactly one timing form."""

    name: Name | None = Field(default=None, description="Unique within the policy; default: the position, from 0.")
    cron: CronField | None = None
    duration: WindowDuration | None = None
    between: BetweenField | None = None
    from_: LocalDateTimeField | None = Field(default=None, alias="from")
    until: LocalDateTimeField | None = None
    lead_time: LeadTimeField = Field(
        default=timedelta(0), description="Open the window this much earlier: a duration, or auto (learned)."
    )
    state: StateField

    @property
    def label(self) -> str:
        """The window's name (its position when it was written without one)."""
        return self.name or "?"

    @property
    def auto_lead(self) -> AutoLeadTime | None:
        """The automatic lead time's settings, or ``None`` for a fixed lead time."""
        return self.lead_time if isinstance(self.lead_time, AutoLeadTime) else None

    @property
    def lead(self) -> timedelta:
        """The lead time used when nothing was learned: the fixed one, or the automatic one's ``initial`` (bounded)."""
        auto = self.auto_lead
        if auto is None:
            assert isinstance(self.lead_time, timedelta)
            return self.lead_time
        return auto.bounded(auto.initial)

    @property
    def timing(self) -> Literal["cron", "between", "absolute"]:
        """Which timing form the window uses."""
        if self.cron is not None:
            return "cron"
        if self.between is not None:
            return "between"
        return "absolute"

    @property
    def recurring(self) -> bool:
        """Whether skip dates, holidays and calendars apply (``cron`` and ``between`` windows)."""
        return self.timing != "absolute"


class HolidaySpec(_Strict):
    """The public holidays of a country (optionally one subdivision and chosen categories), from the holidays package."""

    country: StrictStr = Field(description="ISO 3166-1 code, e.g. US, GB, DE, IN.")
    subdivision: StrictStr | None = Field(default=None, description="Subdivision code of the country, e.g. CA for US.")
    categories: tuple[StrictStr, ...] = Field(
        default=(), description="Holiday categories, e.g. public, government, optional; default: public."
    )

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return check_country(value)

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        return value if value is None or country is None else check_subdivision(country, value)

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        country = info.data.get("country")
        return value if country is None else check_categories(country, value)

    @cached_property
    def calendar(self) -> HolidayCalendar:
        """The holidays themselves, computed a year at a time."""
        return HolidayCalendar(self.country, self.subdivision, self.categories)


class HealthRule(_Strict):
    """A reaction to a health value held for ``for``: a state, or ``action: restart``."""

    name: Name | None = Field(default=None, description="Unique within the policy; default: the position, from 0.")
    status: TriggerHealth
    for_: HoldTime = Field(alias="for")
    state: StateField | None = None
    action: Literal["restart"] | None = None
    recover_for: RecoverTime = timedelta(minutes=5)
    cooldown: Cooldown = timedelta(minutes=30)
    max_per_day: Annotated[StrictInt, Field(ge=1, le=100)] = Field(
        default=3, description="Restarts at most this many times in any 24 hours."
    )

    @property
    def label(self) -> str:
        """The rule's name (its position when it was written without one)."""
        return self.name or "?"

    @property
    def is_restart(self) -> bool:
        """Whether the rule restarts (rather than sets a state)."""
        return self.action == "restart"


class Expire(_Strict):
    """Delete matched deployments ``after`` this long since the scaler first saw them."""

    after: ExpireAfter


def _name_by_position(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    named = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") is None:
            item = {**item, "name": str(position)}
        named.append(item)
    return named


class Policy(_Strict):
    """One named policy: which deployments, when, what state, how to react to health."""

    name: Name = Field(description="Unique across all files; [a-z0-9][a-z0-9-]*.")
    description: Annotated[StrictStr, Field(max_length=1000)] = ""
    match: Match
    timezone: ZoneName = "UTC"
    priority: StrictInt = Field(default=0, description="Higher wins when several policies match one deployment.")
    enforce: StrictBool = Field(default=False, description="Also correct drift observed every cycle.")
    baseline_replicas: Annotated[StrictInt, Field(ge=0, le=MAX_REPLICAS)] | None = Field(
        default=None, description="Replicas that would run without the scaler (for savings)."
    )
    default: StateField | None = Field(default=None, description="State when no window is open; omit to leave alone.")
    windows: tuple[Window, ...] = ()
    skip_dates: tuple[DateRangeField, ...] = ()
    holidays: tuple[HolidaySpec, ...] = Field(
        default=(), description="Public holidays on which recurring windows do not open, as skip_dates."
    )
    calendars: tuple[CalendarFileField, ...] = Field(
        default=(), description="iCalendar files whose events' dates recurring windows do not open on, as skip_dates."
    )
    health: tuple[HealthRule, ...] = ()
    expire: Expire | None = None
    grace_period: GracePeriod | None = None
    _schedules: object = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _name_unnamed_by_position(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("windows", "health"):
                if key in data:
                    data[key] = _name_by_position(data[key])
        return data

    @cached_property
    def tz(self) -> tzinfo:
        """The policy's time zone."""
        return zone(self.timezone)

    @cached_property
    def skip(self) -> SkipDays:
        """The local dates recurring windows do not open on: skip dates, holidays and calendar events."""
        return SkipDays(
            DateSet(self.skip_dates), [holiday.calendar for holiday in self.holidays], self.calendars, self.tz
        )

    @property
    def baseline(self) -> int:
        """Replicas without the scaler: ``baseline_replicas``, else the default's ``min_replicas``, else 1."""
        if self.baseline_replicas is not None:
            return self.baseline_replicas
        if self.default is not None and self.default.kind == "bounds":
            return self.default.min_replicas or 0
        return 1

    @cached_property
    def spend_reference(self) -> tuple[int, int] | None:
        """The replica bounds a change is compared with when the deployment's bounds are unknown.

        The default's bounds when the default has bounds; else the lowest floor and the
        lowest ceiling any state of the policy asks for (bringing the deployment down to the
        policy's lowest state saves money whatever it ran at); ``None`` when no state has bounds.
        """
        if self.default is not None and self.default.kind == "bounds":
            return (self.default.min_replicas or 0, self.default.max_replicas or 0)
        states = [window.state for window in self.windows] + [rule.state for rule in self.health if rule.state]
        bounded = [state for state in states if state is not None and state.kind == "bounds"]
        if not bounded:
            return None
        return (min(state.min_replicas or 0 for state in bounded), min(state.max_replicas or 0 for state in bounded))

    def grace(self, default: timedelta) -> timedelta:
        """How long a new deployment this policy governs is left alone: ``grace_period``, else ``default``."""
        return self.grace_period if self.grace_period is not None else default

    @property
    def schedules(self) -> object:
        """What the loader compiled from the policy's windows and default: a
        :class:`scaler.policy.schedule.PolicySchedules` (``None`` until compiled)."""
        return self._schedules

    def keep_schedules(self, schedules: object) -> None:
        """Keep the schedules compiled from this policy (the loader does, once per policy)."""
        self._schedules = schedules

    @cached_property
    def has_auto_lead(self) -> bool:
        """Whether some window learns its lead time (``lead_time: auto``)."""
        return any(window.auto_lead is not None for window in self.windows)


class PolicyFile(_Strict):
    """One policy file."""

    model_config = ConfigDict(
        title="simplismart-scaler policy file",
        json_schema_extra={"$comment": "Generated by `python -m scaler.policy.schema`; do not edit."},
    )

    version: Literal[1] = Field(description="Format version; always 1.")
    pricing: dict[Accelerator, Price] | None = Field(
        default=None, description="$ per GPU-hour by accelerator; at most once across all files."
    )
    policies: tuple[Policy, ...] = ()


# --------------------------------------------------------------------------- the set

#: Simplismart's published dedicated rates, $ per GPU-hour (transcribed 2026-09).
BUILTIN_PRICES: Mapping[str, float] = MappingProxyType(
    {
        "nvidia-tesla-t4": 1.20,
        "nvidia-l4": 1.50,
        "nvidia-a10g": 2.00,
        "nvidia-a10": 2.00,
        "nvidia-a100": 3.00,
        "nvidia-h100": 4.00,
        "nvidia-h200": 5.20,
    }
)


@dataclass(frozen=True)
class PolicySource:
    """A file the set was read from (a policy file or a calendar) and the SHA-256 of its bytes."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class PolicySet:
    """Every policy in force, the effective prices and where they came from.

    ``content_hash`` covers the files' paths and bytes, calendar files included: equal
    hashes mean a reload changed nothing.
    """

    policies: tuple[Policy, ...] = ()
    pricing: Mapping[str, float] = field(default_factory=lambda: BUILTIN_PRICES)
    sources: tuple[PolicySource, ...] = ()
    content_hash: str = ""
    #: The calendar files the policies name (each once), read with the policy files.
    calendars: tuple[PolicySource, ...] = ()

    def policy(self, name: str) -> Policy | None:
        """Return the policy called ``name``, or ``None``."""
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Policy]:
        return {policy.name: policy for policy in self.policies}

    @cached_property
    def match_cache(self) -> dict[tuple[object, ...], Any]:
        """What :func:`scaler.policy.matching.match_policies` found for each deployment, kept with
        the set (policies do not change once loaded; a reload builds a new set)."""
        return {}

    @property
    def window_count(self) -> int:
        """Number of windows across all policies."""
        return sum(len(policy.windows) for policy in self.policies)

    @property
    def health_rule_count(self) -> int:
        """Number of health rules across all policies."""
        return sum(len(policy.health) for policy in self.policies)

    def summary(self) -> str:
        """Return a one-line count: policies, windows, health rules and files."""
        def plural(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        return (
            f"{plural(len(self.policies), 'policy').replace('policys', 'policies')}, "
            f"{plural(self.window_count, 'window')}, {plural(self.health_rule_count, 'health rule')} "
            f"in {plural(len(self.sources), 'file')}"
        )
