"""What the console's pages show, gathered from the daemon: deployment documents, plans, exceptions, actions,
health history.

The savings shown are measured: what the leader counted and added to the store by deployment and
UTC day (:meth:`scaler.store.Store.add_savings`), today's and over the 7 days ending today. The
plan engine (:func:`scaler.policy.build_plan`, honouring the exceptions in force) gives the
projected spend over the next 24 hours, each deployment's and the organization's. That plan takes
seconds at 10,000 deployments, so it is computed once (the first view waits), then again in the
background after a new policy set, inventory or exception, or every :data:`FIGURES_MAX_AGE`, while
every page shows the last figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import structlog

from scaler.daemon.api.keys import KeyRing
from scaler.daemon.api.facts import ControlFacts
from scaler.daemon.console.overview import Row, Totals, row_of
from scaler.daemon.exceptions_in_force import spans_over
from scaler.daemon.console.timeline import Timeline, build_timeline, window
from scaler.policy import PolicySet, Usage, build_plan
from scaler.policy.plan import plan_deployment
from scaler.simplismart.models import Deployment
from scaler.store import ActionRecord, ExceptionRecord, HealthChange, Saved, Store

log = structlog.get_logger()

#: Ended exceptions the exceptions page still shows, by how long ago they ended.
RECENTLY_ENDED = timedelta(days=7)
#: Plan figures older than this are recomputed (in the background) even when nothing else changed.
FIGURES_MAX_AGE = timedelta(minutes=5)
#: The measured saving "over 7 days" sums today and the days before it, this many in all (UTC days).
WEEK_DAYS = 7
#: Audit records shown on a deployment's page.
RECENT_ACTIONS = 20


class ConsoleFacts(ControlFacts, Protocol):
    """What the console asks the daemon, beyond the control API's facts."""

    keys: KeyRing

    def planning_inputs(self) -> tuple[PolicySet | None, list[Deployment], datetime | None]:
        """The policy set in force, the listed deployments and when they were listed."""
        ...

    def running_gpus(self) -> dict[str, int]:
        """GPUs held now, by accelerator (as ``scaler_running_gpus``)."""
        ...


@dataclass(frozen=True)
class Figures:
    """The plan engine's usage over the next 24 hours: per deployment, and everyone's."""

    next_24h_by_deployment: Mapping[str, Usage]
    next_24h: Usage


@dataclass(frozen=True)
class Measured:
    """Measured savings by deployment id (text): today's and over the last :data:`WEEK_DAYS` UTC days."""

    today: Mapping[str, Saved]
    week: Mapping[str, Saved]


@dataclass(frozen=True)
class DeploymentPage:
    """Everything one deployment's page shows."""

    row: Row
    document: Mapping[str, Any]
    timeline: Timeline
    actions: Sequence[ActionRecord]
    exceptions: Sequence[ExceptionRecord]
    health: Sequence[HealthChange]
    """The recent changes of its health, newest first."""


def plan_figures(
    policy_set: PolicySet | None,
    deployments: Sequence[Deployment],
    now: datetime,
    exceptions: Sequence[ExceptionRecord] = (),
) -> Figures:
    """Planned usage of ``deployments`` under ``policy_set`` over the 24 hours from ``now``, with the
    ``exceptions`` in force then laid over the schedule (nothing without a policy set)."""
    if policy_set is None:
        return Figures({}, Usage())
    until = now + timedelta(hours=24)
    spans = spans_over(exceptions, policy_set, deployments, now, until)
    upcoming = build_plan(policy_set, deployments, now, until, exceptions=spans)
    return Figures({str(entry.deployment.deployment_id): entry.usage for entry in upcoming.deployments}, upcoming.total)


def measured_savings(store: Store, now: datetime) -> Measured:
    """The savings the store holds for ``now``'s UTC day and the :data:`WEEK_DAYS` days ending with it."""
    today = now.astimezone(UTC).date()
    return Measured(
        {str(key): saved for key, saved in store.savings_since(today).items()},
        {str(key): saved for key, saved in store.savings_since(today - timedelta(days=WEEK_DAYS - 1)).items()},
    )


class PageData:
    """Gathers the pages' data from ``daemon`` (see the module's docstring)."""

    def __init__(self, daemon: ConsoleFacts) -> None:
        self.daemon = daemon
        self._figures: tuple[object, datetime, Figures] | None = None
        self._refreshing: asyncio.Task[None] | None = None

    async def figures(self, now: datetime) -> Figures:
        """The plan figures: computed now the first time; afterwards the last ones, recomputed in the background
        when the policies or the inventory changed or they are :data:`FIGURES_MAX_AGE` old (a page never
        waits for the plans again)."""
        policy_set, deployments, listed_at = self.daemon.planning_inputs()
        store = self.daemon.store
        key = (id(policy_set), listed_at, await asyncio.to_thread(store.exceptions_revision))
        if self._figures is None:
            exceptions = await asyncio.to_thread(store.all_exceptions)
            figures = await asyncio.to_thread(plan_figures, policy_set, deployments, now, exceptions)
            self._figures = (key, now, figures)
            return figures
        known_key, computed_at, figures = self._figures
        stale = known_key != key or now - computed_at >= FIGURES_MAX_AGE or now < computed_at
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh(policy_set, deployments, key, now))
        return figures

    async def _refresh(self, policy_set: PolicySet | None, deployments: Sequence[Deployment], key: object,
                       now: datetime) -> None:  # fmt: skip
        try:
            exceptions = await asyncio.to_thread(self.daemon.store.all_exceptions)
            figures = await asyncio.to_thread(plan_figures, policy_set, deployments, now, exceptions)
        except Exception as error:  # noqa: BLE001 - a background job logs its own failure; the last figures stay
            log.error("console_plan_failed", error=str(error))
            return
        self._figures = (key, now, figures)

    async def overview(self, now: datetime) -> tuple[list[Row], Totals]:
        """Every deployment's row and the organization's totals."""
        documents = await self.daemon.deployment_documents()
        figures = await self.figures(now)
        measured = await asyncio.to_thread(measured_savings, self.daemon.store, now)
        rows = [row_of(d, measured.today.get(d["deployment_id"]), measured.week.get(d["deployment_id"]),
                       figures.next_24h_by_deployment.get(d["deployment_id"])) for d in documents]  # fmt: skip
        totals = Totals(
            len(rows),
            self.daemon.running_gpus(),
            sum(measured.today.values(), Saved()),
            sum(measured.week.values(), Saved()),
            figures.next_24h,
        )
        return rows, totals

    async def deployment(self, deployment_id: str, now: datetime) -> DeploymentPage | None:
        """One deployment's page, or ``None`` when the daemon does not list it."""
        documents = await self.daemon.deployment_documents()
        document = next((d for d in documents if d["deployment_id"] == deployment_id), None)
        if document is None:
            return None
        figures = await self.figures(now)
        measured = await asyncio.to_thread(measured_savings, self.daemon.store, now)
        key = UUID(deployment_id)
        policy_set, deployments, _ = self.daemon.planning_inputs()
        deployment = next((d for d in deployments if d.deployment_id == key), None)
        start, until = window(now)
        transitions = ()
        if policy_set is not None and deployment is not None:
            transitions = plan_deployment(policy_set, deployment, start, until).transitions
        store = self.daemon.store
        actions = await asyncio.to_thread(store.recent_actions, RECENT_ACTIONS, key)
        everything = await asyncio.to_thread(store.all_exceptions)
        health = await asyncio.to_thread(store.health_history, key, now)
        concerning = [
            e for e in everything
            if (key in e.deployment_ids or e.target_kind == "all"
                or (e.target_kind == "policy" and e.target == document.get("policy")))
        ]  # fmt: skip
        return DeploymentPage(
            row=row_of(document, measured.today.get(deployment_id), measured.week.get(deployment_id),
                       figures.next_24h_by_deployment.get(deployment_id)),  # fmt: skip
            document=document,
            timeline=build_timeline(transitions, concerning, start, until, now, health),
            actions=actions,
            exceptions=[e for e in concerning if e.active(now)],
            health=health,
        )

    async def exceptions(self, now: datetime) -> tuple[list[ExceptionRecord], list[ExceptionRecord]]:
        """Active exceptions (ending soonest first) and those ended within :data:`RECENTLY_ENDED` (newest first)."""
        everything = await asyncio.to_thread(self.daemon.store.all_exceptions)
        active = sorted((e for e in everything if e.active(now)), key=lambda e: e.until)
        ended = [e for e in everything if not e.active(now) and e.ends_at() >= now - RECENTLY_ENDED]
        ended.sort(key=lambda e: e.ends_at(), reverse=True)
        return active, ended
