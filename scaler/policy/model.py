"""The policy language as immutable, validated models.

Files are validated with these models (one :class:`PolicyFile` per YAML file, one
:class:`Policy` per entry); :mod:`scaler.policy.loader` maps every validation error to
its file and line and adds the checks that span fields, policies and files. The field
types (:mod:`scaler.policy.fields`) parse values into their meaning on the way in; a
state becomes a :class:`~scaler.policy.states.DesiredState`.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from functools import cached_property
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scaler.policy.dates import DateSet
from scaler.policy.durations import format_duration
from scaler.policy.fields import (
    Accelerator,
    AutoLeadBound,
    BetweenField,
    CalendarFileField,
    Cooldown,
    CronField,
    DateRangeField,
    ExpireAfter,
    Glob,
    GracePeriod,
    HoldTime,
    LeadTime,
    LocalDateTimeField,
    Name,
    Price,
    RecoverTime,
    TriggerHealth,
    WindowDuration,
    ZoneName,
)
from scaler.policy.holiday_calendars import HolidayCalendar, check_categories, check_country, check_subdivision
from scaler.policy.skipdays import SkipDays
from scaler.policy.states import MAX_REPLICAS, DesiredState, StateField
from scaler.policy.zones import zone

__all__ = ["FORMAT_VERSION", "DesiredState", "Policy", "PolicyFile"]

FORMAT_VERSION = 1

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
