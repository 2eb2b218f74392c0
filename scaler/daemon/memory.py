"""The cycle's memory: what the store remembers, read once per cycle (:class:`Memory`), and what it
remembers once the cycle's calls are done (:class:`AfterCycle`), merged once for everyone who reads it.

Decisions compare with the applied states the dry run's overlay shows
(:class:`~scaler.daemon.dry_run.DryRunOverlay`); savings count only what the store holds
(a dry run applies nothing). A deployment whose call's outcome is unknown has no applied
state in either until the platform shows what became of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.exception_watch import Revision
from scaler.daemon.execution import Execution
from scaler.store import AppliedState, Backoff, ExceptionRecord, HealthTrack, Store


@dataclass(frozen=True)
class Memory:
    """What the store remembers, read once per cycle."""

    applied: dict[UUID, AppliedState]
    tracks: dict[UUID, HealthTrack]
    rules: dict[UUID, dict[tuple[str, str], Any]]
    exceptions: list[ExceptionRecord]
    backoffs: dict[UUID, Backoff]
    exceptions_revision: Revision
    compared: dict[UUID, AppliedState] = field(default_factory=dict)
    """The applied states the cycle's decisions compare with (the dry run's overlay included)."""

    @classmethod
    def read(cls, store: Store, now: datetime) -> Memory:
        """Read it (blocking: run in a worker thread). Raises :class:`~scaler.store.StoreError`."""
        revision = store.exceptions_revision()  # before the exceptions: a write between is seen as a change
        return cls(
            exceptions_revision=revision,
            applied=store.all_applied(),
            tracks=store.health_tracks(),
            rules=store.all_rule_memory(),
            exceptions=store.active_exceptions(now),
            backoffs=store.backoffs(),
        )

    def compared_with(self, overlay: DryRunOverlay) -> Memory:
        """This memory with :attr:`compared` laid out from ``overlay`` (once, before the cycle's calls)."""
        return replace(self, compared=overlay.applied(self.applied))

    def after(self, execution: Execution, overlay: DryRunOverlay) -> AfterCycle:
        """What is remembered once ``execution``'s changes are taken into account."""
        stored = overlay.stored(self.applied, execution.applied)
        applied = {**self.compared, **execution.applied}
        for deployment_id in execution.state_unknown:
            applied.pop(deployment_id, None)
            stored.pop(deployment_id, None)
        backoffs = dict(self.backoffs)
        for deployment_id, backoff in execution.backoffs.items():
            if backoff is None:
                backoffs.pop(deployment_id, None)
            else:
                backoffs[deployment_id] = backoff
        return AfterCycle(applied=applied, stored_applied=stored, backoffs=backoffs)


@dataclass(frozen=True)
class AfterCycle:
    """The applied states and backoffs once a cycle's calls are done."""

    applied: dict[UUID, AppliedState]
    """What decisions compare with (a dry run's overlay included)."""
    stored_applied: dict[UUID, AppliedState]
    """What the store holds (what savings count)."""
    backoffs: dict[UUID, Backoff]
