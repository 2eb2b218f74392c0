"""The daemon's parts built and connected once: who shares the store's access, the inventory, the
board, the dry run's overlay; the :class:`~scaler.daemon.service.Daemon` runs them.

See the README's Development section for what each part owns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scaler.daemon.board import Board
from scaler.daemon.clock import SteadyClock
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.executor import Executor
from scaler.daemon.health_polling import HealthPoller
from scaler.daemon.health_hold import HealthHold
from scaler.daemon.health_intake import HealthIntake
from scaler.daemon.inventory import Inventory
from scaler.daemon.notify import Delivery, Notifier
from scaler.daemon.organization import OrganizationState
from scaler.daemon.policy_reload import PolicyKeeper
from scaler.daemon.reconciler import Reconciler
from scaler.daemon.resolver import Resolver
from scaler.daemon.startups import StartupLearner
from scaler.daemon.status_document import DaemonStatus, StatusSources, policy_zones
from scaler.daemon.store_access import StoreAccess
from scaler.metrics import Metrics
from scaler.settings import Settings
from scaler.simplismart.client import SimplismartClient
from scaler.store import Store
from scaler.store.leader import LeaderElector

#: Health rules act on health observed within this many health intervals: one poll may be late or
#: fail without holding them, two in a row mean the deployment's health is unknown.
HEALTH_FRESH_INTERVALS = 2


@dataclass(frozen=True)
class Basics:
    """What every part is built from."""

    settings: Settings
    client: SimplismartClient
    store: Store
    metrics: Metrics
    clock: SteadyClock
    may_act: Callable[[], bool]


@dataclass(frozen=True)
class Parts:
    """The daemon's parts (see the module's docstring)."""

    store_access: StoreAccess
    organization: OrganizationState
    policies: PolicyKeeper
    executor: Executor
    health: HealthPoller
    inventory: Inventory
    startups: StartupLearner
    board: Board
    intake: HealthIntake
    reconciler: Reconciler


def build_parts(basics: Basics, *, policy_paths: Sequence[Path], on_progress: Callable[[], None]) -> Parts:
    """Build the parts (``policy_paths``: the policy files, else ``SCALER_POLICY_PATH``; ``on_progress``:
    told each health answer)."""
    settings, metrics = basics.settings, basics.metrics
    store_access = StoreAccess(basics.store, metrics)
    organization = OrganizationState(metrics=metrics)
    policies = PolicyKeeper(
        list(policy_paths) or [settings.policy_path], metrics=metrics, allow_empty=settings.allow_empty_policies
    )
    overlay = DryRunOverlay(dry_run=settings.dry_run)
    executor = Executor(
        client=basics.client,
        store=store_access,
        metrics=metrics,
        clock=basics.clock,
        organization=organization,
        overlay=overlay,
        max_actions_per_cycle=settings.max_actions_per_cycle,
        may_act=basics.may_act,
    )
    health = HealthPoller(
        client=basics.client,
        store=basics.store,
        metrics=metrics,
        organization=organization,
        idle_interval_seconds=settings.health_idle_interval_seconds,
        poll_interval_seconds=settings.health_interval_seconds,
        on_progress=on_progress,
    )
    inventory = Inventory(client=basics.client, store=store_access, metrics=metrics, organization=organization)
    startups = StartupLearner(store=basics.store, metrics=metrics)
    resolver = Resolver(
        inventory=inventory,
        startups=startups,
        overlay=overlay,
        new_deployment_grace=timedelta(seconds=settings.new_deployment_grace_seconds),
    )
    shared = _Shared(store_access, organization, policies, overlay, executor, health, inventory, startups, resolver)
    return _around_the_cycle(basics, shared)


@dataclass(frozen=True)
class _Shared:
    """The parts the board and the reconciler are built around."""

    store_access: StoreAccess
    organization: OrganizationState
    policies: PolicyKeeper
    overlay: DryRunOverlay
    executor: Executor
    health: HealthPoller
    inventory: Inventory
    startups: StartupLearner
    resolver: Resolver


def _around_the_cycle(basics: Basics, shared: _Shared) -> Parts:
    """The board, the health intake and the reconciler, around the ``shared`` parts."""
    settings, metrics = basics.settings, basics.metrics
    store_access, organization, policies = shared.store_access, shared.organization, shared.policies
    executor, health, inventory, startups = shared.executor, shared.health, shared.inventory, shared.startups
    board = Board(
        metrics=metrics,
        inventory=inventory,
        resolver=shared.resolver,
        pods=health.pods,
        policies=lambda: policies.current,
        waiting_since=executor.waiting_since,
    )
    hold = HealthHold(timedelta(seconds=HEALTH_FRESH_INTERVALS * settings.health_interval_seconds))
    intake = HealthIntake(
        store=store_access,
        clock=basics.clock,
        policies=policies,
        inventory=inventory,
        board=board,
        executor=executor,
        health=health,
        startups=startups,
        metrics=metrics,
        organization=organization,
        may_act=basics.may_act,
        hold=hold,
    )
    reconciler = Reconciler(
        client=basics.client,
        store=store_access,
        metrics=metrics,
        clock=basics.clock,
        policies=policies,
        executor=executor,
        organization=organization,
        health=health,
        intake=intake,
        inventory=inventory,
        board=board,
        resolver=shared.resolver,
        startups=startups,
        overlay=shared.overlay,
        allow_delete=settings.allow_delete,
        health_hold=hold,
        may_act=basics.may_act,
    )
    return Parts(
        store_access, organization, policies, executor, health, inventory, startups, board, intake, reconciler
    )


def build_status(
    basics: Basics,
    parts: Parts,
    *,
    elector: LeaderElector | None,
    monotonic: Callable[[], float],
    wakeup_at: Callable[[], datetime | None],
) -> DaemonStatus:
    """What the HTTP endpoints show of the daemon (``wakeup_at``: the scheduler's next wake-up)."""
    sources = StatusSources(
        settings=basics.settings,
        clock=basics.clock,
        store=parts.store_access,
        policies=parts.policies,
        organization=parts.organization,
        inventory=parts.inventory,
        board=parts.board,
        startups=parts.startups,
        elector=elector,
        may_act=basics.may_act,
        wakeup_at=wakeup_at,
    )
    return DaemonStatus(sources, monotonic=monotonic)


def build_notifier(basics: Basics, parts: Parts) -> Notifier:
    """The webhooks' notifier, told every cycle's summary."""
    settings = basics.settings
    notifier = Notifier(
        delivery=Delivery(settings.webhook_urls, metrics=basics.metrics),
        store=basics.store,
        board=parts.board,
        organization=parts.organization,
        clock=basics.clock,
        events=settings.notified_events,
        ahead=timedelta(seconds=settings.notify_ahead_seconds),
        console_url=settings.console_url,
        may_act=basics.may_act,
        zone_of=lambda policy: policy_zones(parts.policies).get(policy or ""),
    )
    parts.reconciler.listen(on_cycle=notifier.note_cycle)
    return notifier
