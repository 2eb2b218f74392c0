"""The words the scaler's parts share, each set defined once, below every layer.

The platform's lifecycle statuses and health values (read by the client's models, which
re-export them), the actions the daemon decides and the results the store records of them,
the events webhook notices announce and what becomes of each.
Every other module, the metrics' label values included, derives its sets from these: a
new status, health value, action or result is added here and nowhere else.
Nothing of ours is imported here.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, get_args


class DeploymentStatus(str, Enum):
    """Lifecycle status of a deployment, as listed by ``/deployments/list/model/``."""

    DEPLOYED = "DEPLOYED"
    DEPLOYING = "DEPLOYING"
    FAILED = "FAILED"
    DELETED = "DELETED"
    DELETING = "DELETING"
    SCALED_DOWN = "SCALED_DOWN"
    UNKNOWN = "UNKNOWN"
    """A value this version does not know; the raw text is kept in ``status_raw``."""

    @classmethod
    def parse(cls, raw: str) -> DeploymentStatus:
        """Return the status for ``raw`` (aliases included), or ``UNKNOWN``."""
        text = raw.strip().upper()
        text = _STATUS_ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


_STATUS_ALIASES = {"PENDING": "DEPLOYING", "STOPPED": "SCALED_DOWN"}

class HealthStatus(str, Enum):
    """Aggregated health (``data``) from ``fetch-status``."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    INITIALIZING = "Initializing"
    DEGRADED = "Degraded"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"
    SCALED_DOWN = "SCALED_DOWN"
    MISSING = "Missing"
    UNRECOGNIZED = "Unrecognized"
    """A value this version does not know; the raw text is kept in ``status_raw``."""

    @classmethod
    def parse(cls, raw: str) -> HealthStatus:
        """Return the health value for ``raw`` (case-insensitive), or ``UNRECOGNIZED``."""
        return _HEALTH_BY_FOLDED.get(raw.strip().casefold(), cls.UNRECOGNIZED)


#: Each health value by its case-folded text, and ``stopped`` (the CLI documentation's word) as SCALED_DOWN.
_HEALTH_BY_FOLDED = {member.value.casefold(): member for member in HealthStatus if member is not HealthStatus.UNRECOGNIZED}
_HEALTH_BY_FOLDED.setdefault("stopped", HealthStatus.SCALED_DOWN)

ActionName = Literal["start", "stop", "update_replicas", "restart", "delete"]
#: Every action the daemon may decide, one audit record each (``restart`` sends a stop, then a start).
ACTIONS: tuple[ActionName, ...] = get_args(ActionName)

ActionResult = Literal["pending", "success", "error", "dry_run", "deferred", "blocked"]
#: Every result of an action in the audit log (``pending`` while it is being sent).
ACTION_RESULTS: tuple[ActionResult, ...] = get_args(ActionResult)
#: The results an action can finish with (every result but ``pending``).
FINAL_RESULTS: tuple[ActionResult, ...] = tuple(r for r in ACTION_RESULTS if r != "pending")

NotifyEvent = Literal[
    "transition_upcoming",
    "action_failed",
    "exception_created",
    "exception_ended",
    "wallet_blocked",
    "wallet_unblocked",
    "auth_failing",
    "auth_ok",
]
#: Every event a webhook notice can announce (``SCALER_NOTIFY_EVENTS`` chooses among them).
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
NotifyResult = Literal["delivered", "rejected", "failed", "dropped"]
#: What became of one notice to one webhook: answered 2xx; refused with a 4xx (never retried);
#: given up after retries (5xx, timeouts, connection failures) or a redirect; dropped from a full queue.
NOTIFY_RESULTS: tuple[NotifyResult, ...] = get_args(NotifyResult)
