"""What a cycle's calls changed (:class:`Execution`), handed back by the executor and by crash recovery,
and the default fence (:func:`always`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from scaler.daemon.calls import Calls
from scaler.daemon.journal import ActionReport
from scaler.simplismart.models import DeploymentStatus
from scaler.store import AppliedState, Backoff

Recheck = Callable[[Calls], Awaitable[str | None]]
"""Asked before each call: why the plan no longer stands (``None``: it still does)."""


def always() -> bool:
    """The default fence: a single instance may always act."""
    return True


@dataclass
class Execution:
    """Everything a cycle's plans changed, for the reconciler to take into account."""

    reports: list[ActionReport] = field(default_factory=list)
    applied: dict[UUID, AppliedState] = field(default_factory=dict)
    """New applied states (notes included); in a dry run, the in-memory ones."""
    restarted: dict[UUID, tuple[str, datetime]] = field(default_factory=dict)
    """Deployments restarted by a health rule: the rule and when (for ``record_restart``)."""
    statuses: dict[UUID, DeploymentStatus] = field(default_factory=dict)
    """The status each deployment shows after the actions that succeeded."""
    gone: set[UUID] = field(default_factory=set)
    """Deployments the platform no longer has (404): forgotten."""
    backoffs: dict[UUID, Backoff | None] = field(default_factory=dict)
    """Backoffs set (after a refusal) or cleared (``None``, after a success)."""
    state_unknown: set[UUID] = field(default_factory=set)
    """Deployments whose applied state was forgotten: a call's outcome is unknown."""
    unrecorded: bool = False
    """An outcome could not be written: some action stays pending until recovery."""
