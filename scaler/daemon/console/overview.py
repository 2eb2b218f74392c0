"""The overview's rows and totals from the daemon's deployment documents, the measured savings and the plan
engine's projection.

Pure: the instant is a parameter. Rows are filtered (a case-insensitive substring of name, id,
policy, status, health, desired state or accelerator), sorted by a column, and cut into pages
of :data:`PAGE_SIZE`, so a page stays small whatever the organization's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scaler.policy import Usage
from scaler.store import Saved

#: Rows on one page of the overview.
PAGE_SIZE = 100
#: The columns the overview sorts by (the query's ``sort``), and the default.
SORT_KEYS = ("name", "status", "health", "policy", "desired", "next", "saved_today", "saved_week")
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class Row:
    """One deployment as the overview shows it."""

    id: str
    name: str
    status: str
    accelerator: str
    health: str
    health_since: datetime | None
    policy: str | None
    conflict: tuple[str, ...]
    desired: str
    source: str | None
    next_at: datetime | None
    next_state: str | None
    timezone: str
    exceptions: tuple[Mapping[str, Any], ...]
    saved_today: Saved
    """Measured today (UTC day)."""
    saved_week: Saved
    """Measured over the last 7 UTC days, today included."""
    next_24h: Usage
    """Planned over the next 24 hours."""


@dataclass(frozen=True)
class Totals:
    """The organization at a glance: GPUs running by accelerator, measured savings today and over 7 days,
    planned spend in the next 24 h."""

    deployments: int
    running_gpus: Mapping[str, int]
    saved_today: Saved
    saved_week: Saved
    next_24h: Usage


@dataclass(frozen=True)
class Page:
    """The rows of one page, and where it is in the whole."""

    rows: tuple[Row, ...]
    number: int
    pages: int
    matching: int
    query: str
    sort: str
    descending: bool
    extra: dict[str, Any] = field(default_factory=dict)


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant of a document (``...Z``), or ``None``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def row_of(
    document: Mapping[str, Any], today: Saved | None, week: Saved | None, next_24h: Usage | None = None
) -> Row:
    """The overview's row of one ``/status`` deployment entry, with its measured savings today and over 7 days
    and its planned usage over the next 24 hours."""
    health = document.get("health") or {}
    desired = document.get("desired") or {}
    upcoming = document.get("next_transition") or {}
    return Row(
        id=document["deployment_id"],
        name=document["deployment_name"],
        status=document["status"],
        accelerator=document.get("accelerator") or "",
        health=health.get("value") or "unknown",
        health_since=parse_instant(health.get("since")),
        policy=document.get("policy"),
        conflict=tuple(document.get("conflict") or ()),
        desired=desired.get("state") or "unchanged",
        source=desired.get("source"),
        next_at=parse_instant(upcoming.get("at")),
        next_state=upcoming.get("state"),
        timezone=document.get("timezone") or "UTC",
        exceptions=tuple(document.get("exceptions") or ()),
        saved_today=today or Saved(),
        saved_week=week or Saved(),
        next_24h=next_24h or Usage(),
    )


def _sort_key(name: str) -> Any:
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    keys: dict[str, Any] = {
        "name": lambda row: (row.name.lower(), row.id),
        "status": lambda row: (row.status, row.name.lower()),
        "health": lambda row: (row.health, row.name.lower()),
        "policy": lambda row: (row.policy or "", row.name.lower()),
        "desired": lambda row: (row.desired, row.name.lower()),
        "next": lambda row: (row.next_at or far, row.name.lower()),
        "saved_today": lambda row: (row.saved_today.gpu_seconds, row.name.lower()),
        "saved_week": lambda row: (row.saved_week.gpu_seconds, row.name.lower()),
    }
    return keys[name]


def matches(row: Row, query: str) -> bool:
    """Whether ``query`` (lower case) is part of the row's name, id, policy, status, health, desired
    state or accelerator."""
    fields = (row.name, row.id, row.policy or "", row.status, row.health, row.desired, row.accelerator)
    return any(query in value.lower() for value in fields)


def page_of(rows: Sequence[Row], *, query: str = "", sort: str = DEFAULT_SORT, descending: bool = False,
            number: int = 1) -> Page:  # fmt: skip
    """The page ``number`` (from 1; clamped) of ``rows`` matching ``query``, sorted by ``sort``.

    Raises ``ValueError`` for a ``sort`` not in :data:`SORT_KEYS`."""
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}")
    wanted = query.strip().lower()
    found = [row for row in rows if matches(row, wanted)] if wanted else list(rows)
    found.sort(key=_sort_key(sort), reverse=descending)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    number = min(max(1, number), pages)
    chosen = found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    return Page(tuple(chosen), number, pages, len(found), query.strip(), sort, descending)


def relative(instant: datetime, now: datetime) -> str:
    """``instant`` from ``now`` in words: ``in 40 min``, ``in 3 h 5 min``, ``in 2 d 4 h``, ``12 min ago``, ``now``."""
    delta = instant - now
    if abs(delta.total_seconds()) < 60:
        return "now"
    text = duration(abs(delta))
    return f"in {text}" if delta > timedelta(0) else f"{text} ago"


def duration(length: timedelta) -> str:
    """``length`` in words, to the minute: ``40 min``, ``3 h 5 min``, ``2 d 4 h``, ``under 1 min``."""
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def local_time(instant: datetime, zone: str) -> str:
    """``instant`` in ``zone`` as ``Mon 19:00 CET``; in UTC for a zone this machine does not know."""
    try:
        local = instant.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local = instant.astimezone(ZoneInfo("UTC"))
    return local.strftime("%a %H:%M %Z")


def utc_time(instant: datetime) -> str:
    """``instant`` as ``2026-12-07 18:00 UTC``."""
    return instant.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")


def gpu_hours(value: float) -> str:
    """GPU-hours with one decimal."""
    return f"{value:,.1f}"


def dollars(value: float | None) -> str:
    """Dollars with two decimals, ``n/a`` when a price is unknown."""
    return "n/a" if value is None else f"${value:,.2f}"
