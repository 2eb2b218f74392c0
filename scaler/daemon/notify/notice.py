"""One notice: its event, what it concerns, its line of text and its JSON body, and the texts people read.

The body is ``{"event", "deployment", "deployment_id", "at", "state", "text", "url"}``;
``text`` is one line for people, so that Slack- and Mattermost-style incoming webhooks show it
as it is. ``key`` names the notice in the store (one transition, one exception's creation...),
so that it is sent once.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from scaler.daemon.clock import iso
from scaler.policy import DesiredState
from scaler.vocabulary import NotifyEvent


@dataclass(frozen=True)
class Notice:
    """A notice to every webhook (see the module)."""

    event: NotifyEvent
    key: str
    at: datetime
    text: str
    state: str | None = None
    deployment: str | None = None
    deployment_id: UUID | None = None
    url: str | None = None

    def body(self) -> dict[str, Any]:
        """Return the JSON body posted to each webhook."""
        return {
            "event": self.event,
            "deployment": self.deployment,
            "deployment_id": str(self.deployment_id) if self.deployment_id is not None else None,
            "at": iso(self.at),
            "state": self.state,
            "text": self.text,
            "url": self.url,
        }


def reduction(before: DesiredState, after: DesiredState) -> str | None:
    """``stop`` or ``scale-down`` when going from ``before`` to ``after`` takes capacity away, else ``None``.

    From ``running`` (bounds left as they are) to bounds is neither: the bounds in force are unknown.
    """
    if after.kind == "stopped":
        return "stop" if before.kind != "stopped" else None
    if before.kind == "bounds" and after.kind == "bounds":
        assert before.min_replicas is not None and before.max_replicas is not None
        assert after.min_replicas is not None and after.max_replicas is not None
        if after.max_replicas < before.max_replicas or after.min_replicas < before.min_replicas:
            return "scale-down"
    return None


def local_time(instant: datetime, now: datetime, timezone: str | None) -> str:
    """``19:00 CET`` in ``timezone`` (UTC without one), with the day when it is not ``now``'s day."""
    zone = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    local, today = instant.astimezone(zone), now.astimezone(zone)
    clock = local.strftime("%H:%M %Z")
    return clock if local.date() == today.date() else f"{local:%a %d %b} {clock}"


def in_words(seconds: float) -> str:
    """``in 15 min``, ``in 2 h 5 min`` or ``in less than a minute``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "in less than a minute"
    if minutes < 60:
        return f"in {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"in {hours} h {rest} min" if rest else f"in {hours} h"


def upcoming_text(
    name: str, kind: str, before: DesiredState, after: DesiredState, at: datetime, now: datetime, timezone: str | None
) -> str:
    """The line of a ``transition_upcoming`` notice: what happens, when, and the command that keeps it as it is."""
    when = f"{local_time(at, now, timezone)} ({in_words((at - now).total_seconds())})"
    quoted = shlex.quote(name)
    if kind == "stop":
        return (
            f"{name} stops at {when}. Keep it up: scaler override {quoted} --running --for 2h --reason 'needed tonight'"
        )
    keep = f"--min {before.min_replicas} --max {before.max_replicas}"
    return (
        f"{name} scales down to {after.describe()} at {when}. Keep it as it is: "
        f"scaler override {quoted} {keep} --for 2h --reason 'needed tonight'"
    )
