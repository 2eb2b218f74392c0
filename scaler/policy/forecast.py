"""The forecast ``scaler plan`` shows: each deployment's predicted transitions, usage and cost
over a period, the dates its windows skip, its exceptions, and the totals, with the JSON shape
``scaler plan --output json`` prints (:meth:`Forecast.to_json`). :mod:`scaler.policy.plan`
builds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from scaler.policy.leadtime import LeadTimeInUse
from scaler.policy.savings_rules import Usage, savings_percent
from scaler.policy.states import DesiredState
from scaler.policy.zones import UTC, require_aware
from scaler.simplismart.models import Deployment

_DIGITS = 6


def iso_utc(instant: datetime) -> str:
    """Return ``instant`` as ISO 8601 in UTC with ``Z`` (``2026-03-08T07:00:00Z``)."""
    return require_aware(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Transition:
    """From ``at`` on, the deployment is in ``state`` (``None``: left alone) because of ``source``."""

    at: datetime
    state: DesiredState | None
    source: str

    @cached_property
    def _at_text(self) -> str:
        return iso_utc(self.at)

    def to_json(self) -> dict[str, Any]:
        """Return the transition as the plan's JSON shape."""
        state = self.state
        if state is None:
            kind = "unchanged"
        else:
            kind = "stopped" if state.kind == "stopped" else "running"
        return {
            "at": self._at_text,
            "state": kind,
            "min_replicas": state.min_replicas if state is not None else None,
            "max_replicas": state.max_replicas if state is not None else None,
            "source": self.source,
        }


@dataclass(frozen=True)
class SkippedDate:
    """A local date on which the recurring ``windows`` stay closed, and why (``names``: ``skip date``,
    holiday names such as ``Christmas Day (US)``, calendar events' summaries)."""

    day: date
    windows: tuple[str, ...]
    names: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the skipped date as the plan's JSON shape."""
        return {"date": self.day.isoformat(), "windows": list(self.windows), "names": list(self.names)}


@dataclass(frozen=True)
class ExceptionSpan:
    """A person's exception covering a deployment from ``start`` to ``end``: a suspension
    (``state`` ``None``: left alone) or an override to ``state``; ``by`` made it because of ``reason``."""

    id: str
    kind: str
    state: DesiredState | None
    start: datetime
    end: datetime
    by: str
    reason: str

    @property
    def source(self) -> str:
        """The source a transition it brings names: ``override:<id>`` or ``suspended:<id>``."""
        return f"{'override' if self.kind == 'override' else 'suspended'}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        """Return the exception as the plan's JSON shape."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state.describe() if self.state is not None else None,
            "from": iso_utc(self.start),
            "until": iso_utc(self.end),
            "by": self.by,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DeploymentPlan:
    """One deployment's policy (or conflict), transitions and usage over the plan's period."""

    deployment: Deployment
    policy: str | None
    conflict: tuple[str, ...]
    timezone: str
    transitions: tuple[Transition, ...]
    usage: Usage
    skipped_dates: tuple[SkippedDate, ...] = ()
    grace_until: datetime | None = None
    """A new deployment's grace period runs until then (it is left alone before)."""
    lead_times: Mapping[str, LeadTimeInUse] = field(default_factory=dict)
    """The lead time in use of each window with ``lead_time: auto``, by window name."""
    exceptions: tuple[ExceptionSpan, ...] = ()
    """People's exceptions covering the deployment during the period, the deciding one first."""
    baseless_until: datetime | None = None
    """Found stopped and never touched: no baseline (nothing planned to run, nothing saved) before then."""

    def baseline_at(self, instant: datetime, baseline: int) -> int:
        """The baseline replicas at ``instant``: ``baseline``, or 0 before :attr:`baseless_until`."""
        return 0 if self.baseless_until is not None and instant < self.baseless_until else baseline

    def to_json(self) -> dict[str, Any]:
        """Return the deployment's entry in the plan's JSON shape."""
        return {
            "deployment_id": str(self.deployment.deployment_id),
            "deployment_name": self.deployment.deployment_name,
            "accelerator_type": list(self.deployment.accelerator_type),
            "accelerator_count": self.deployment.accelerator_count,
            "policy": self.policy,
            "conflict": list(self.conflict),
            "transitions": [transition.to_json() for transition in self.transitions],
            "grace_until": iso_utc(self.grace_until) if self.grace_until is not None else None,
            "skipped_dates": [skipped.to_json() for skipped in self.skipped_dates],
            "lead_times": {name: in_use.to_json() for name, in_use in self.lead_times.items()},
            "exceptions": [exception.to_json() for exception in self.exceptions],
            "gpu_hours": {"baseline": _round(self.usage.baseline_gpu_hours), "planned": _round(self.usage.planned_gpu_hours)},
            "cost": {"baseline": _round(self.usage.baseline_cost), "planned": _round(self.usage.planned_cost)},
        }


@dataclass(frozen=True)
class Forecast:
    """The forecast for ``[start, until)``: one entry per deployment, by name, and the totals."""

    start: datetime
    until: datetime
    deployments: tuple[DeploymentPlan, ...]
    skipped: tuple[Deployment, ...] = ()

    @property
    def total(self) -> Usage:
        """The usage of all deployments together (cost ``None`` if any price is unknown)."""
        total = Usage()
        for entry in self.deployments:
            total = total + entry.usage
        return total

    @property
    def savings_percent(self) -> float | None:
        """100 x (baseline - planned) / baseline, of cost when every cost is known, else of GPU-hours."""
        return savings_percent(self.total)

    def to_json(self) -> dict[str, Any]:
        """Return the forecast as the JSON object ``scaler plan --output json`` prints."""
        total = self.total
        percent = self.savings_percent
        return {
            "from": iso_utc(self.start),
            "until": iso_utc(self.until),
            "deployments": [entry.to_json() for entry in self.deployments],
            "totals": {
                "gpu_hours": {"baseline": _round(total.baseline_gpu_hours), "planned": _round(total.planned_gpu_hours)},
                "cost": {"baseline": _round(total.baseline_cost), "planned": _round(total.planned_cost)},
                "savings_percent": None if percent is None else round(percent, 4),
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS) + 0.0
