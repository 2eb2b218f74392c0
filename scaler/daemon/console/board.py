"""What the console's pages show, gathered from the daemon: deployment documents, plans, exceptions, actions,
health history.

The plan engine (:func:`scaler.policy.build_plan`) gives each deployment's planned usage today
(the UTC day) and over the 7 days from today's start, and the organization's spend over the
next 24 hours. Those three plans take seconds at 10,000 deployments, so they are computed once
(the first view waits), then again in the background after a new policy set or inventory or
every :data:`FIGURES_MAX_AGE`, while every page shows the last ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import structlog

from scaler.daemon.api.keys import KeyRing
from scaler.daemon.api.facts import ControlFacts
from scaler.daemon.console.overview import Row, Totals, row_of
from scaler.daemon.console.timeline import Timeline, build_timeline, window
from scaler.policy import PolicySet, Usage, build_plan
from scaler.policy.plan import plan_deployment
from scaler.simplismart.models import Deployment
from scaler.store import ActionRecord, ExceptionRecord, HealthChange

log = structlog.get_logger()

#: Ended exceptions the exceptions page still shows, by how long ago they ended.
RECENTLY_ENDED = timedelta(days=7)
#: Plan figures older than this are recomputed (in the background) even when nothing else changed.
FIGURES_MAX_AGE = timedelta(minutes=5)
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
    """The plan engine's usage: per deployment today and this week, and everyone's next 24 hours."""

    today: Mapping[str, Usage]
    week: Mapping[str, Usage]
    next_24h: Usage


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


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def plan_figures(policy_set: PolicySet | None, deployments: Sequence[Deployment], now: datetime) -> Figures:
    """Planned usage of ``deployments`` under ``policy_set`` at ``now`` (nothing without a policy set)."""
    if policy_set is None:
        return Figures({}, {}, Usage())
    day = _day_start(now)
    today = build_plan(policy_set, deployments, day, day + timedelta(days=1))
    week = build_plan(policy_set, deployments, day, day + timedelta(days=7))
    upcoming = build_plan(policy_set, deployments, now, now + timedelta(hours=24))
    return Figures(
        {str(entry.deployment.deployment_id): entry.usage for entry in today.deployments},
        {str(entry.deployment.deployment_id): entry.usage for entry in week.deployments},
        upcoming.total,
    )


class Board:
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
        key = (id(policy_set), listed_at)
        if self._figures is None:
            figures = await asyncio.to_thread(plan_figures, policy_set, deployments, now)
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
            figures = await asyncio.to_thread(plan_figures, policy_set, deployments, now)
        except Exception as error:  # noqa: BLE001 - a background job logs its own failure; the last figures stay
            log.error("console_plan_failed", error=str(error))
            return
        self._figures = (key, now, figures)

    async def overview(self, now: datetime) -> tuple[list[Row], Totals]:
        """Every deployment's row and the organization's totals."""
        documents = await self.daemon.deployment_documents()
        figures = await self.figures(now)
        rows = [row_of(d, figures.today.get(d["deployment_id"]), figures.week.get(d["deployment_id"])) for d in documents]
        saved_today = Usage()
        for usage in figures.today.values():
            saved_today = saved_today + usage
        totals = Totals(len(rows), self.daemon.running_gpus(), saved_today, figures.next_24h)
        return rows, totals

    async def deployment(self, deployment_id: str, now: datetime) -> DeploymentPage | None:
        """One deployment's page, or ``None`` when the daemon does not list it."""
        documents = await self.daemon.deployment_documents()
        document = next((d for d in documents if d["deployment_id"] == deployment_id), None)
        if document is None:
            return None
        figures = await self.figures(now)
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
            row=row_of(document, figures.today.get(deployment_id), figures.week.get(deployment_id)),
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


def names_of(daemon: ConsoleFacts) -> Callable[[UUID], str]:
    """A look-up of deployment names by id (the id itself for one no longer listed)."""
    names = daemon.deployment_names()
    return lambda key: names.get(key, str(key))
