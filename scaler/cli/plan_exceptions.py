"""The exceptions ``scaler plan --live`` lays over the schedule: those the daemon's state store
(SCALER_STATE_URL) holds in force over the planned period, by deployment they cover. Without a
store, or when it cannot be read (named on stderr), there are none."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from scaler.cli.plan_memory import StateStoreReader, warn_unless_missing
from scaler.daemon.exceptions_in_force import spans_over
from scaler.policy import ExceptionSpan, PolicySet
from scaler.simplismart.models import Deployment


def exceptions_over(
    reader: StateStoreReader, policy_set: PolicySet, deployments: Iterable[Deployment], start: datetime, until: datetime
) -> dict[UUID, list[ExceptionSpan]]:
    """Return the exceptions in force at some instant of ``[start, until)`` covering each deployment,
    in precedence order (see :func:`scaler.policy.build_plan`)."""
    recorded = reader.read(lambda store: store.all_exceptions(), None, warn_unless_missing("exceptions are not shown"))
    if recorded is None:
        return {}
    return spans_over(recorded, policy_set, deployments, start, until)
