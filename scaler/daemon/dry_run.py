"""The dry run's overlay: what a dry run "applied" (states and the rules' memory), kept in memory only,
and the one reading of ``SCALER_DRY_RUN``: :attr:`DryRunOverlay.sends`, whether calls go out.

In a dry run everything is decided, recorded (``dry_run``), logged and counted, and no call
is sent nor any state or rule memory written: what it "applied" is laid over the store's
memory here, so that each change is reported once and a later real run still converges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from scaler.store.records import AppliedState

RuleKey = tuple[str, str]
"""A rule's memory key: (policy, rule)."""


class DryRunOverlay:
    """What a dry run applied, over the store's memory (see the module's docstring)."""

    def __init__(self, *, dry_run: bool) -> None:
        self.sends = not dry_run
        """Whether calls are sent and their effects written to the store (false in a dry run)."""
        self._applied: dict[UUID, AppliedState] = {}
        self._rules: dict[UUID, dict[RuleKey, Any]] = {}

    @property
    def dry_run(self) -> bool:
        """Whether this is a dry run (recorded with each action and logged)."""
        return not self.sends

    def applied(self, stored: Mapping[UUID, AppliedState]) -> dict[UUID, AppliedState]:
        """The applied states decisions compare with: the store's, with what a dry run applied over them."""
        return {**stored, **self._applied} if self._applied else dict(stored)

    def stored(
        self, stored: Mapping[UUID, AppliedState], new: Mapping[UUID, AppliedState]
    ) -> dict[UUID, AppliedState]:
        """What the store holds once a cycle's ``new`` applied states are written (none in a dry run)."""
        return {**stored, **new} if self.sends else dict(stored)

    def note_applied(self, deployment_id: UUID, state: AppliedState) -> None:
        """Keep what a dry run applied to ``deployment_id``."""
        self._applied[deployment_id] = state

    def rules(self, deployment_id: UUID, stored: Mapping[RuleKey, Any]) -> dict[RuleKey, Any]:
        """A deployment's rules' memory: the store's, with what a dry run remembered over it."""
        return {**stored, **self._rules.get(deployment_id, {})}

    def keep_rules(self, items: Iterable[tuple[UUID, str, str, Any]]) -> bool:
        """In a dry run, keep the rules' memory ``items`` here and return true (the store is not written)."""
        if self.sends:
            return False
        for deployment_id, policy, rule, value in items:
            self._rules.setdefault(deployment_id, {})[(policy, rule)] = value
        return True

    def forget(self, deployment_id: UUID) -> None:
        """Drop what a dry run applied to a deployment that is gone."""
        self._applied.pop(deployment_id, None)
        self._rules.pop(deployment_id, None)
