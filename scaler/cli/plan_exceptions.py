"""The exceptions ``scaler plan --live`` lays over the schedule: those the daemon's state store
(SCALER_STATE_URL) holds in force over the planned period, by deployment they cover. The store is
only read, never created; without one, or when it cannot be read (named on stderr), there are none."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import click

from scaler.daemon.exceptions_in_force import spans_over
from scaler.policy import ExceptionSpan, PolicySet
from scaler.settings import Settings
from scaler.simplismart.models import Deployment
from scaler.store import StoreError, StoreMissing, open_store


def exceptions_over(
    settings: Settings, policy_set: PolicySet, deployments: Iterable[Deployment], start: datetime, until: datetime
) -> dict[UUID, list[ExceptionSpan]]:
    """Return the exceptions in force at some instant of ``[start, until)`` covering each deployment,
    in precedence order (see :func:`scaler.policy.build_plan`)."""
    try:
        with open_store(settings.state_url, create=False) as store:
            recorded = store.all_exceptions()
    except StoreMissing:
        return {}
    except StoreError as exc:
        click.echo(f"warning: the state store cannot be read ({exc}): exceptions are not shown", err=True)
        return {}
    return spans_over(recorded, policy_set, deployments, start, until)
