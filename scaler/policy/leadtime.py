"""Lead times learned from a deployment's observed start-ups (``lead_time: auto``).

A start-up lasts from a successful ``start`` (or a scale-up from a floor of 0) to the
first health answer ``Healthy`` with every pod ready, as the daemon observes it. The
last :data:`KEPT_STARTUPS` are kept; once :data:`MIN_STARTUPS` exist, the lead time is
their 90th percentile (nearest rank: with 20 start-ups the two slowest do not count, so
one slow start does not swing it), rounded up to the minute and bounded by ``min`` and
``max``; before that it is ``initial`` (bounded too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from scaler.policy.durations import format_duration

if TYPE_CHECKING:
    from scaler.policy.model import Policy, Window

#: Start-ups kept per deployment (older ones are forgotten).
KEPT_STARTUPS = 20
#: Start-ups needed before the lead time is learned rather than ``initial``.
MIN_STARTUPS = 3
PERCENTILE = 90


@dataclass(frozen=True)
class LeadTimeInUse:
    """A window's lead time for one deployment and where it came from (``fixed``, ``auto: p90 of 12 starts``)."""

    value: timedelta
    source: str

    def to_json(self) -> dict[str, object]:
        """Return the lead time as plain data (seconds and source)."""
        return {"seconds": int(self.value.total_seconds()), "source": self.source}


def lead_time_in_use(window: Window, startups: Sequence[float]) -> LeadTimeInUse:
    """Return ``window``'s lead time for a deployment whose observed start-ups took ``startups`` seconds (oldest first)."""
    auto = window.auto_lead
    if auto is None:
        return LeadTimeInUse(window.lead, "fixed")
    recent = sorted(startups[-KEPT_STARTUPS:])
    if len(recent) < MIN_STARTUPS:
        wanted = auto.initial
        source = f"auto: initial, {len(recent)} of {MIN_STARTUPS} starts observed"
    else:
        rank = math.ceil(PERCENTILE / 100 * len(recent))
        wanted = timedelta(minutes=math.ceil(recent[rank - 1] / 60))
        source = f"auto: p{PERCENTILE} of {len(recent)} starts"
    value = auto.bounded(wanted)
    if value != wanted:
        source += f", bounded to {format_duration(value)}"
    return LeadTimeInUse(value, source)


def lead_times_in_use(policy: Policy, startups: Sequence[float]) -> dict[str, LeadTimeInUse]:
    """Return the lead time in use of each of ``policy``'s windows with ``lead_time: auto``, by window name."""
    return {window.label: lead_time_in_use(window, startups) for window in policy.windows if window.auto_lead}


def learned_lead_times(policy: Policy, startups: Sequence[float]) -> Mapping[str, timedelta]:
    """Return the lead times to schedule ``policy`` with for a deployment (only the automatic ones)."""
    return {label: in_use.value for label, in_use in lead_times_in_use(policy, startups).items()}
