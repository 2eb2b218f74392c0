"""Property tests: plans are ordered and agree with resolution, and the engine agrees with a naive oracle.

The oracle decides whether a window is open at an instant directly from the written
fields (its own sets for each cron field, its own Vixie day rule), enumerating every
opening near the instant; the engine works from merged boundary instants in chunks.
Time zones with DST (including Lord Howe's 30-minute shift) and instants near their
changes are favoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.policy.loader import load_policy_text
from scaler.policy.plan import build_plan
from scaler.policy.resolve import resolve_desired_state
from scaler.policy.schedule import schedule_of

from .helpers import deployment

UTC = timezone.utc
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
ANCHORS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York spring forward
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin spring forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin fall back
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York fall back
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe fall back
    datetime(2026, 10, 3, 15, tzinfo=UTC),  # Lord Howe spring forward
    datetime(2028, 2, 28, 12, tzinfo=UTC),  # leap day
    datetime(2026, 12, 31, 12, tzinfo=UTC),  # year end
]
MINUTES = {"0": {0}, "30": {30}, "*/15": {0, 15, 30, 45}, "0,45": {0, 45}, "5-10": set(range(5, 11))}
HOURS = {"*": set(range(24)), "0-3": {0, 1, 2, 3}, "1,2": {1, 2}, "9": {9}, "*/6": {0, 6, 12, 18}, "22": {22}}
DAYS_OF_MONTH = {"*": set(range(1, 32)), "1": {1}, "13": {13}, "*/2": set(range(1, 32, 2)), "28-31": {28, 29, 30, 31}}
MONTHS = {"*": set(range(1, 13)), "3": {3}, "10,11": {10, 11}, "jan-jun": set(range(1, 7))}
WEEKDAYS = {"*": set(range(7)), "0": {0}, "7": {0}, "1-5": {1, 2, 3, 4, 5}, "sat,sun": {6, 0}, "5": {5}}  # cron: 0 = Sunday
BETWEEN_DAYS = {"": set(range(7)), "Mon-Fri ": {0, 1, 2, 3, 4}, "Sat,Sun ": {5, 6}, "Fri-Mon ": {4, 5, 6, 0}, "Wed ": {2}}
CLOCKS = ["00:00", "01:30", "02:30", "03:00", "08:00", "20:00", "23:45"]
DURATIONS = {"1m": 60, "15m": 900, "1h": 3600, "90m": 5400, "8h": 28800, "1d": 86400, "36h": 129600}
LEADS = {"0s": 0, "15m": 900, "2h": 7200}
STATES = ["stopped", "running", "{min_replicas: 1, max_replicas: 2}", "{min_replicas: 0, max_replicas: 3}"]


@dataclass(frozen=True)
class WindowSpec:
    kind: str
    fields: tuple
    lead: str
    state: str

    def yaml(self, index: int) -> str:
        lines = [f"      - name: w{index}"]
        if self.kind == "cron":
            minute, hour, dom, month, dow, duration = self.fields
            lines += [f'        cron: "{minute} {hour} {dom} {month} {dow}"', f"        duration: {duration}"]
        elif self.kind == "between":
            days, start, end = self.fields
            lines.append(f'        between: "{days}{start}-{end}"')
        else:
            opens, closes = self.fields
            lines += [f'        from: "{opens:%Y-%m-%dT%H:%M}"', f'        until: "{closes:%Y-%m-%dT%H:%M}"']
        lines += [f"        lead_time: {self.lead}", f"        state: {self.state}"]
        return "\n".join(lines)


cron_windows = st.builds(
    lambda fields, lead, state: WindowSpec("cron", fields, lead, state),
    st.tuples(
        st.sampled_from(sorted(MINUTES)),
        st.sampled_from(sorted(HOURS)),
        st.sampled_from(sorted(DAYS_OF_MONTH)),
        st.sampled_from(sorted(MONTHS)),
        st.sampled_from(sorted(WEEKDAYS)),
        st.sampled_from(sorted(DURATIONS)),
    ),
    st.sampled_from(sorted(LEADS)),
    st.sampled_from(STATES),
)
between_windows = st.builds(
    lambda days, start, end, lead, state: WindowSpec("between", (days, start, end), lead, state),
    st.sampled_from(sorted(BETWEEN_DAYS)),
    st.sampled_from(CLOCKS),
    st.sampled_from([*CLOCKS, "24:00"]),
    st.sampled_from(sorted(LEADS)),
    st.sampled_from(STATES),
).filter(lambda window: window.fields[1] != window.fields[2])
absolute_windows = st.builds(
    lambda anchor, offset, hours, lead, state: WindowSpec(
        "absolute",
        ((anchor + timedelta(hours=offset)).replace(tzinfo=None), (anchor + timedelta(hours=offset + hours)).replace(tzinfo=None)),
        lead,
        state,
    ),
    st.sampled_from(ANCHORS),
    st.integers(-30, 30),
    st.integers(2, 60),
    st.sampled_from(sorted(LEADS)),
    st.sampled_from(STATES),
)


@dataclass(frozen=True)
class PolicySpec:
    zone: str
    default: str | None
    windows: tuple[WindowSpec, ...]
    skip: tuple[date, ...]

    def yaml(self) -> str:
        lines = ["version: 1", "policies:", "  - name: p", '    match: {names: ["*"]}', f"    timezone: {self.zone}"]
        if self.default is not None:
            lines.append(f"    default: {self.default}")
        if self.skip:
            lines.append(f"    skip_dates: [{', '.join(repr(day.isoformat()) for day in self.skip)}]")
        lines.append("    windows:")
        lines += [window.yaml(index) for index, window in enumerate(self.windows)]
        return "\n".join(lines) + "\n"


@st.composite
def policy_specs(draw) -> PolicySpec:
    windows = tuple(draw(st.lists(st.one_of(cron_windows, between_windows, absolute_windows), min_size=1, max_size=4)))
    needs_restorable = any(window.state.startswith("{") for window in windows)
    defaults = ["stopped", "{min_replicas: 1, max_replicas: 2}"] + ([] if needs_restorable else [None, "running"])
    anchor = draw(st.sampled_from(ANCHORS)).date()
    skip = tuple(draw(st.lists(st.integers(-3, 3).map(lambda offset: anchor + timedelta(days=offset)), max_size=3)))
    return PolicySpec(draw(st.sampled_from(ZONES)), draw(st.sampled_from(defaults)), windows, skip)


def instants_near(anchor_strategy=st.sampled_from(ANCHORS)):
    return st.builds(lambda anchor, minutes: anchor + timedelta(minutes=minutes), anchor_strategy, st.integers(-4 * 1440, 4 * 1440))


# --------------------------------------------------------------------------- the oracle


def _to_utc(day: date, clock: time, tz) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _oracle_open(window: WindowSpec, spec: PolicySpec, instant: datetime) -> bool:
    tz = ZoneInfo(spec.zone) if spec.zone != "UTC" else UTC
    lead = timedelta(seconds=LEADS[window.lead])
    if window.kind == "absolute":
        opens, closes = (moment.replace(tzinfo=tz).astimezone(UTC) for moment in window.fields)
        return opens - lead <= instant < closes
    if window.kind == "between":
        days, start, end = window.fields
        start_clock = time.fromisoformat(start)
        next_day = end == "24:00" or time.fromisoformat(end) <= start_clock
        end_clock = time(0, 0) if end == "24:00" else time.fromisoformat(end)
        local_day = instant.astimezone(tz).date()
        for offset in range(-3, 2):
            day = local_day + timedelta(days=offset)
            if day.weekday() not in BETWEEN_DAYS[days] or day in spec.skip:
                continue
            opens = _to_utc(day, start_clock, tz) - lead
            closes = _to_utc(day + timedelta(days=1) if next_day else day, end_clock, tz)
            if opens <= instant < closes:
                return True
        return False
    minute, hour, dom, month, dow, duration_text = window.fields
    duration = timedelta(seconds=DURATIONS[duration_text])
    first = (instant - duration).astimezone(tz).date() - timedelta(days=1)
    last = (instant + lead).astimezone(tz).date() + timedelta(days=1)
    day = first
    while day <= last:
        in_month = day.day in DAYS_OF_MONTH[dom]
        in_week = (day.isoweekday() % 7) in WEEKDAYS[dow]
        day_ok = (in_month and in_week) if dom.startswith("*") or dow.startswith("*") else (in_month or in_week)
        if day.month in MONTHS[month] and day_ok and day not in spec.skip:
            for hh in HOURS[hour]:
                for mm in MINUTES[minute]:
                    fired = _to_utc(day, time(hh, mm), tz)
                    if fired - lead <= instant < fired + duration:
                        return True
        day += timedelta(days=1)
    return False


def oracle_state(spec: PolicySpec, instant: datetime):
    for index, window in enumerate(spec.windows):
        if _oracle_open(window, spec, instant):
            return f"window:w{index}"
    return "default" if spec.default is not None else "none"


def load(spec: PolicySpec):
    """Return the policy set of ``spec`` (every generated policy is valid)."""
    return load_policy_text(spec.yaml())


PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@PROPERTY_SETTINGS
@given(policy_specs(), st.lists(instants_near(), min_size=1, max_size=6))
def test_engine_agrees_with_the_oracle(spec: PolicySpec, instants: list[datetime]):
    """At any instant, the open window (or default) the engine finds is the one the naive oracle finds."""
    policy = load(spec).policies[0]
    for instant in instants:
        assert oracle_state(spec, instant) == schedule_of(policy).state_at(instant).source, (spec.yaml(), instant)


@PROPERTY_SETTINGS
@given(policy_specs(), instants_near(), st.integers(1, 400))
def test_plan_transitions_are_ordered_and_never_repeat_a_state(spec: PolicySpec, start: datetime, hours: int):
    """A plan's transitions start at from, are strictly increasing in time, and consecutive states differ."""
    policy_set = load(spec)
    plan = build_plan(policy_set, [deployment("d")], start, start + timedelta(hours=hours))
    transitions = plan.deployments[0].transitions
    assert start == transitions[0].at
    assert all(earlier.at < later.at for earlier, later in zip(transitions, transitions[1:]))
    assert all(earlier.state != later.state for earlier, later in zip(transitions, transitions[1:]))
    assert all(start <= transition.at < start + timedelta(hours=hours) for transition in transitions)


@PROPERTY_SETTINGS
@given(policy_specs(), instants_near(), st.integers(1, 400), st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_resolution_agrees_with_the_plan_in_force(spec: PolicySpec, start: datetime, hours: int, fractions: list[float]):
    """Resolving at a random instant of the plan gives the state of the plan's transition in force then."""
    policy_set = load(spec)
    until = start + timedelta(hours=hours)
    transitions = build_plan(policy_set, [deployment("d")], start, until).deployments[0].transitions
    for fraction in fractions:
        instant = min(start + (until - start) * fraction, until - timedelta(microseconds=1))
        in_force = [transition for transition in transitions if transition.at <= instant][-1]
        resolution = resolve_desired_state(policy_set, deployment("d"), now=instant)
        assert in_force.state == resolution.desired


@PROPERTY_SETTINGS
@given(policy_specs(), instants_near())
def test_next_change_is_where_the_state_first_differs(spec: PolicySpec, start: datetime):
    """Just before next_change the schedule wants what it wants now; at next_change it wants something else."""
    policy = load(spec).policies[0]
    boundary = schedule_of(policy).next_change(start, timedelta(days=30))
    now = schedule_of(policy).state_at(start).key
    if boundary is None:
        for hours in (1, 24, 24 * 29):
            assert now == schedule_of(policy).state_at(start + timedelta(hours=hours)).key
        return
    assert boundary > start
    assert now == schedule_of(policy).state_at(boundary - timedelta(microseconds=1)).key
    assert now != schedule_of(policy).state_at(boundary).key
