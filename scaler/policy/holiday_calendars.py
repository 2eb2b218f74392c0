"""Public holidays of a country (and subdivision) from the maintained ``holidays`` package.

A policy's ``holidays`` entry names a country by its ISO 3166 code, optionally a
subdivision and the categories of holidays wanted (the package's default, ``public``,
when none are given). This module checks those codes, with the closest valid one when a
code is unknown, and answers which holidays fall on a local date, by their English names
where the package has them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date
from functools import cache

import holidays

#: The language of holiday names when the country's calendar has it.
NAME_LANGUAGE = "en_US"


@cache
def _countries() -> dict[str, list[str]]:
    """Supported country codes (aliases such as UK included) and their subdivision codes."""
    return holidays.list_supported_countries(include_aliases=True)


@cache
def _country_names() -> dict[str, str]:
    """Each country's name, squeezed to lowercase letters (``unitedstates``), to its ISO code."""
    return {re.sub(r"[^a-z]", "", entry[0].lower()): entry[1] for entry in holidays.registry.COUNTRIES.values()}


def _closest(value: str, candidates: Sequence[str]) -> str | None:
    matches = difflib.get_close_matches(value.upper(), list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def check_country(country: str) -> str:
    """Return ``country`` as an upper-case code; raise ``ValueError`` naming the closest supported code."""
    code = country.strip().upper()
    if code in _countries():
        return code
    names = _country_names()
    near_names = difflib.get_close_matches(re.sub(r"[^a-z]", "", country.lower()), list(names), n=1, cutoff=0.75)
    closest = names[near_names[0]] if near_names else _closest(country, [code for code in _countries() if len(code) == 2])
    hint = f"did you mean {closest}? " if closest else ""
    raise ValueError(
        f"unknown country {country!r}; {hint}expected an ISO 3166-1 code the holidays package supports, "
        "such as US, GB, DE or IN"
    )


def check_subdivision(country: str, subdivision: str) -> str:
    """Return ``subdivision`` as the package spells it; raise ``ValueError`` naming the closest one of ``country``."""
    known = _countries()[country]
    by_upper = {code.upper(): code for code in known}
    if subdivision.strip().upper() in by_upper:
        return by_upper[subdivision.strip().upper()]
    if not known:
        raise ValueError(f"{country} has no subdivisions in the holidays package; remove subdivision")
    closest = _closest(subdivision, list(by_upper))
    hint = f"did you mean {by_upper[closest]}? " if closest else ""
    shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    raise ValueError(f"unknown subdivision {subdivision!r} of {country}; {hint}expected one of {shown}")


def check_categories(country: str, categories: Sequence[str]) -> tuple[str, ...]:
    """Return ``categories`` in lower case; raise ``ValueError`` for one ``country`` does not have."""
    supported = holidays.country_holidays(country).supported_categories
    wanted = tuple(category.strip().lower() for category in categories)
    for category in wanted:
        if category not in supported:
            closest = difflib.get_close_matches(category, list(supported), n=1, cutoff=0.6)
            hint = f"did you mean {closest[0]}? " if closest else ""
            raise ValueError(
                f"unknown holiday category {category!r} for {country}; {hint}expected one of {', '.join(supported)}"
            )
    return wanted


class HolidayCalendar:
    """The holidays of one country, subdivision and categories, computed a year at a time on demand."""

    def __init__(self, country: str, subdivision: str | None = None, categories: Sequence[str] = ()) -> None:
        self.label = country if subdivision is None else f"{country}-{subdivision}"
        probe = holidays.country_holidays(country)
        language = NAME_LANGUAGE if NAME_LANGUAGE in probe.supported_languages else None
        self._holidays = holidays.country_holidays(
            country, subdiv=subdivision, categories=tuple(categories) or None, language=language
        )

    def names_on(self, day: date) -> tuple[str, ...]:
        """Return the names of the holidays on ``day``, each with the calendar's code: ``Christmas Day (US)``."""
        return tuple(f"{name} ({self.label})" for name in self._holidays.get_list(day))
