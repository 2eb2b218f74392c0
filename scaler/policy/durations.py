"""Durations of the policy language: ``30s``, ``10m``, ``8h``, ``7d``, ``1h30m``.

A duration is one or more ``<integer><unit>`` parts, largest unit first, each unit at
most once; units are ``d`` (24 hours of elapsed time), ``h``, ``m`` and ``s``. ``0s``
(or any zero) is the empty duration.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)([dhms])")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_UNIT_ORDER = "dhms"
#: Longest duration read, in seconds: far beyond every limit the language sets (at most
#: 3660 days), yet well inside what ``timedelta`` can hold, so a typo is an error, not a crash.
_MAX_SECONDS = 1_000_000 * 86_400
EXPECTED = "a duration such as 30s, 10m, 8h, 7d or 1h30m"


def parse_duration(text: str) -> timedelta:
    """Return the duration written as ``text``.

    Raises ``ValueError`` saying what is wrong and what is expected.
    """
    compact = text.strip().lower()
    if not compact:
        raise ValueError(f"empty duration; expected {EXPECTED}")
    position = 0
    seconds = 0
    last_unit = -1
    for part in _PART.finditer(compact):
        if part.start() != position:
            break
        number, unit = part.groups()
        order = _UNIT_ORDER.index(unit)
        if order <= last_unit:
            raise ValueError(
                f"{text!r} is not a duration: units go from largest to smallest, each once "
                f"(d, h, m, s); expected {EXPECTED}"
            )
        last_unit = order
        if len(number) > 12:
            raise ValueError(f"{text[:40]!r} is far too long a duration; expected {EXPECTED}")
        seconds += int(number) * _UNIT_SECONDS[unit]
        position = part.end()
    if position != len(compact):
        raise ValueError(f"{text!r} is not a duration; expected {EXPECTED}")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{text!r} is far too long a duration; expected {EXPECTED}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Return ``value`` written in the policy language (``1h30m``, ``0s``); inverse of :func:`parse_duration`."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit in _UNIT_ORDER:
        count, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
