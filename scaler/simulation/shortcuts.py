"""The work a simulated tick leaves out: which deployments a cycle or a health rule can decide anything new for.

:func:`worth_reconciling` chooses the deployments a reconcile tick after a list reconciles;
:func:`health_rules_may_act` the deployments whose health rules may act on the age of the
health they saw, for which a skipped health tick still runs before a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from scaler.daemon.service import Daemon
from scaler.simplismart.models import Deployment, HealthStatus

#: Health values no health rule acts on.
QUIET_HEALTH = frozenset({HealthStatus.HEALTHY.value, HealthStatus.SCALED_DOWN.value})


def health_rules_may_act(daemon: Daemon) -> set[UUID]:
    """The deployments governed by health rules with one in force, a restart due, or health that is
    not Healthy (or not yet read)."""
    chosen = set()
    for deployment_id in daemon.intake.watched():
        view = daemon.board.views.get(deployment_id)
        if (
            view is None
            or view.resolution is None
            or view.health is None
            or view.resolution.source.startswith("health:")
            or view.resolution.restart_due is not None
            or view.health.value not in QUIET_HEALTH
        ):
            chosen.add(deployment_id)
    return chosen


def worth_reconciling(daemon: Daemon, before: Mapping[UUID, Deployment]) -> set[UUID] | None:
    """The deployments a cycle after a list can decide anything new for (``None``: all of them).

    The others are listed as they were, decided nothing to do last time, have no plan
    waiting and wait for no health answer: their answer changes only at a boundary, a
    health change or a backoff's end, and the daemon reconciles those itself. Everything is
    reconciled when a deployment appeared or went, or one has not been decided for.
    """
    after = daemon.inventory.deployments
    if before.keys() != after.keys():
        return None
    chosen = daemon.reconciler.health_held | (daemon.executor.waiting_deployments & after.keys())
    for deployment_id, deployment in after.items():
        view = daemon.board.views.get(deployment_id)
        if view is None or view.decision is None or view.error is not None:
            return None
        previous = before[deployment_id]
        if view.decision.plans or (previous is not deployment and previous != deployment):
            chosen.add(deployment_id)
    return chosen
