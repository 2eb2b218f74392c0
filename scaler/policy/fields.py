"""The field types of the policy language: how each value written in a file is checked,
parsed into its meaning (a ``cron`` into a :class:`~scaler.policy.cron.CronSchedule`, a
duration into a ``timedelta``) and described in the JSON Schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, PlainValidator, StrictFloat, StrictStr, ValidationInfo, WithJsonSchema

from scaler.policy.between import BetweenSpec, parse_between
from scaler.policy.cron import CronSchedule, parse_cron
from scaler.policy.dates import DateRange, parse_date_range, parse_local_datetime
from scaler.policy.durations import format_duration, parse_duration
from scaler.policy.icalendars import CalendarFile
from scaler.policy.zones import zone
from scaler.simplismart.models import DOCUMENTED_HEALTH, HealthStatus

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
NAME_MAX = 63

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
