"""Wall-clock time in a policy's zone: the one place where DST is decided.

A local time that does not exist (the spring-forward gap) is read with the offset in
force before the gap, as RFC 5545 does: 02:30 on the change night becomes 03:30. A
local time that happens twice (the fall-back overlap) means its first occurrence.
Both are what :pep:`495` gives for ``fold=0``, which is what this module relies on.
"""

from __future__ import annotations

import difflib
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache

UTC = timezone.utc


@lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    """Return the IANA zone called ``name`` (``UTC`` for ``"UTC"``).

    Raises ``ValueError`` naming the zone and, where one is close, the intended one.
    """
    if name == "UTC":
        return UTC
    if not name or name.startswith("/") or ".." in name or "\\" in name:
        raise ValueError(f"{name!r} is not an IANA time zone name such as Europe/Berlin or UTC")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, _known_zones(), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; expected an IANA name such as Europe/Berlin, America/New_York or UTC"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None


@lru_cache(maxsize=1)
def _known_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def local_instant(day: date, clock: time, tz: tzinfo) -> datetime:
    """Return the UTC instant of wall-clock ``clock`` on local ``day`` in ``tz``.

    A time in the spring-forward gap moves forward by the gap (RFC 5545); a time in
    the fall-back overlap is its first occurrence.
    """
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def wall_instant(moment: datetime, tz: tzinfo) -> datetime:
    """Return the UTC instant of ``moment``: naive means wall clock in ``tz``, aware is kept."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return moment.astimezone(UTC)


def local_date(instant: datetime, tz: tzinfo) -> date:
    """Return the local calendar date in ``tz`` at ``instant``."""
    return instant.astimezone(tz).date()


def require_aware(instant: datetime, what: str = "instant") -> datetime:
    """Return ``instant`` in UTC; raise ``ValueError`` when it is naive (an instant needs an offset)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


def days(start: date, stop: date) -> list[date]:
    """Return the dates from ``start`` to ``stop`` inclusive."""
    count = (stop - start).days
    return [start + timedelta(days=offset) for offset in range(count + 1)]
