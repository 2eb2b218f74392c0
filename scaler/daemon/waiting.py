"""The waiting book: each plan that waits (deferred or blocked), since when it was first decided, and
what was last reported of it, so that a plan waiting cycle after cycle is recorded, logged and
counted once while it stays the same (:func:`report_held`), and a plan waiting longest goes first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from scaler.daemon.admission import Held
from scaler.daemon.calls import Calls, Step
from scaler.daemon.journal import ActionReport, Journal, Outcome
from scaler.store import ActionIntent, ActionOutcome

Slot = tuple[UUID, str]
"""A deployment's concern a plan serves: (deployment, ``state`` or ``expiry``)."""


class WaitingBook:
    """What waits, and what was reported of it (see the module's docstring)."""

    def __init__(self) -> None:
        self._waiting: dict[Slot, tuple[tuple[object, ...], datetime]] = {}
        """Each plan slot's pending plan (key) and when it was first decided."""
        self._reported: dict[Slot, tuple[object, ...]] = {}
        """The last deferred or blocked report of each slot: (plan key, result, why)."""

    @property
    def deployments(self) -> set[UUID]:
        """The deployments with a plan remembered as waiting (deferred or blocked) or reported as such."""
        return {deployment_id for deployment_id, _ in {*self._waiting, *self._reported}}

    def since(self, deployment_id: UUID) -> datetime | None:
        """When the state plan now pending for ``deployment_id`` was first decided (deferred or blocked), if any."""
        entry = self._waiting.get((deployment_id, "state")) or self._waiting.get((deployment_id, "expiry"))
        return entry[1] if entry else None

    def note(self, plan: Calls, now: datetime) -> datetime:
        """``plan`` is decided at ``now``: return since when it waits (now, unless it waited already)."""
        entry = self._waiting.get(plan.slot)
        if entry is None or entry[0] != plan.key:
            entry = (plan.key, now)
            self._waiting[plan.slot] = entry
        return entry[1]

    def settle(self, planned: Iterable[Calls], *, every_deployment: bool, covering: Collection[UUID]) -> None:
        """A cycle over every deployment (or over ``covering``) made ``planned``: the others wait no more."""
        if not (every_deployment or covering):
            return
        slots = {plan.slot for plan in planned}
        remembered = {*self._waiting, *self._reported}
        for slot in [key for key in remembered if key not in slots and (every_deployment or key[0] in covering)]:
            self._forget_slot(slot)

    def done(self, plan: Calls) -> None:
        """The plan ran: it no longer waits, and a later identical plan is reported again."""
        self._forget_slot(plan.slot)

    def forget(self, deployment_id: UUID) -> None:
        """Drop what waits for a deployment that is gone."""
        for slot in ((deployment_id, "state"), (deployment_id, "expiry")):
            self._forget_slot(slot)

    def _forget_slot(self, slot: Slot) -> None:
        self._waiting.pop(slot, None)
        self._reported.pop(slot, None)

    def is_new(self, held: Held) -> bool:
        """Whether ``held`` differs from what was last reported of its slot."""
        return self._reported.get(held.plan.slot) != (held.plan.key, held.result, held.why)

    def reported(self, held: Held) -> None:
        """``held`` was recorded, logged and counted."""
        self._reported[held.plan.slot] = (held.plan.key, held.result, held.why)


async def report_held(held: list[Held], now: datetime, *, book: WaitingBook, journal: Journal) -> list[ActionReport]:
    """Record, log and count deferred and blocked plans, each once while it stays the same; return the
    cycle's reports of every one of them."""
    reports: list[ActionReport] = []
    entries: list[tuple[ActionIntent, ActionOutcome]] = []
    fresh: list[tuple[Held, Step]] = []
    for entry in held:
        plan, new = entry.plan, book.is_new(entry)
        for step in plan.steps:
            report = journal.report(plan, step, Outcome(entry.result, message=entry.why), now, new=new)
            reports.append(replace(report, by_configuration=plan.blocked is not None))
            if new:
                intent = journal.intent(plan, step, now, last=False)
                entries.append((intent, ActionOutcome(entry.result, now, entry.why)))
                fresh.append((entry, step))
    if entries and await journal.record(entries) is not None:
        for entry, step in fresh:
            book.reported(entry)
            journal.count(entry.plan, step, Outcome(entry.result))
            journal.log(entry.plan, step, Outcome(entry.result, message=entry.why))
    return reports
