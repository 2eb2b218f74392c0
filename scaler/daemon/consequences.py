"""Consequences: from a failed step and its error to what follows. Pure: returns a value the executor applies.

Errors (:mod:`scaler.simplismart.errors`): 400 quota and other refusals back the deployment
off (1 minute, doubling to 30), its desired state kept; a startstop refused for its
organization id pauses starts and stops organization-wide (no backoff: the deployment is
not at fault); 402 blocks spend organization-wide; 401/403 pauses every call; 404 forgets
the deployment; 5xx, 429 and timeouts were already retried by the client, and the next
cycle decides again. When a state-changing call may or may not have taken effect (no
answer, a 5xx, an unreadable answer, or a refusal after such an attempt), the outcome is
unknown and the deployment's applied state is forgotten: the next cycle applies the
desired state once more from what the platform reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from scaler.daemon.clock import iso
from scaler.daemon.calls import Step
from scaler.simplismart.errors import (
    AuthenticationError,
    ClientValidationError,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    NotSent,
    OrganizationMismatch,
    QuotaExceeded,
    RateLimited,
    SimplismartError,
    WalletBlocked,
)
from scaler.store.records import Backoff

#: First backoff after a refused call, in seconds: a minute lets capacity or quota free up
#: without the deployment being retried every cycle.
BACKOFF_INITIAL_SECONDS = 60.0
#: Longest backoff, in seconds: half an hour, so a deployment that keeps being refused is
#: still tried twice an hour and starts soon after capacity returns.
BACKOFF_MAX_SECONDS = 1800.0

#: Errors that prove a request had no effect: refused, or never sent.
NO_EFFECT_ERRORS = (
    AuthenticationError,
    InvalidRequest,
    QuotaExceeded,
    WalletBlocked,
    NotFound,
    RateLimited,
    ClientValidationError,
    ConfigurationError,
    NotSent,
)

OrganizationPause = Literal["token", "wallet", "org_id"]
"""An organization-wide pause a refusal starts: every call (token), spend (wallet), starts and stops (org_id)."""

ORG_ID_PAUSE = "starts and stops pause organization-wide: the platform refuses SCALER_ORG_ID"
FORGOTTEN = "forgotten: the platform no longer has it"
OUTCOME_UNKNOWN = "outcome unknown: the desired state is applied again"


def backoff_seconds(failures: int) -> float:
    """Return the backoff after ``failures`` consecutive refusals: 60 s doubling, at most 1800 s."""
    return min(BACKOFF_INITIAL_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS)


def outcome_unknown(step: Step, error: SimplismartError) -> bool:
    """Whether the failed ``step`` may nevertheless have changed the deployment's state.

    Only a first attempt that was refused or never sent proves nothing happened; after a
    retried attempt (which may have landed) or with no usable answer, nobody knows.
    """
    if step.action not in ("update_replicas", "stop", "start"):
        return False
    return not (isinstance(error, NO_EFFECT_ERRORS) and error.attempts <= 1)


@dataclass(frozen=True)
class NewBackoff:
    """A backoff to record for the deployment: until when, after how many failures, and why."""

    until: datetime
    failures: int
    reason: str


@dataclass(frozen=True)
class Consequence:
    """What follows a failed step. ``not_sent``: nothing went out (the fence closed before the
    first attempt), so the action is deferred and nothing else follows."""

    message: str
    """The error's text for the record, prefixed when a restart's stop went out or an earlier attempt may have."""
    not_sent: bool = False
    pause: OrganizationPause | None = None
    backoff: NewBackoff | None = None
    forget: bool = False
    """The platform no longer has the deployment (404)."""
    state_unknown: bool = False
    """The call may have taken effect: the applied state is forgotten."""

    def summary(self, *, backoff_recorded: bool) -> str | None:
        """The consequence as logged with the action (a backoff only once it is on record)."""
        parts = []
        if self.pause == "org_id":
            parts.append(ORG_ID_PAUSE)
        if self.forget:
            parts.append(FORGOTTEN)
        if self.backoff is not None and backoff_recorded:
            parts.append(f"backing off until {iso(self.backoff.until)} ({self.backoff.failures} failures)")
        if self.state_unknown:
            parts.append(OUTCOME_UNKNOWN)
        return "; ".join(parts) or None


def consequence_of(
    step: Step, error: SimplismartError, *, stopped: bool, backoff: Backoff | None, at: datetime
) -> Consequence:
    """Return what follows ``step`` failing with ``error`` at ``at`` (see the module's docstring).

    ``stopped``: the step is a restart whose stop went out before its start failed;
    ``backoff``: the deployment's current backoff, if any (a refusal doubles it).
    """
    message = error.message or error.default_message()
    if isinstance(error, NotSent) and not stopped and not outcome_unknown(step, error):
        return Consequence(message=error.message, not_sent=True)
    if stopped:
        message = f"stopped, but the start failed: {message}"
    elif isinstance(error, NotSent):
        message = f"an earlier attempt may have been delivered; then {message}"
    pause: OrganizationPause | None = None
    new_backoff = None
    forget = False
    if isinstance(error, AuthenticationError):
        pause = "token"
    elif isinstance(error, WalletBlocked):
        pause = "wallet"
    elif isinstance(error, OrganizationMismatch):
        pause = "org_id"
    elif isinstance(error, NotFound):
        forget = True
    elif isinstance(error, (QuotaExceeded, InvalidRequest)):
        failures = (backoff.failures if backoff is not None else 0) + 1
        until = at + timedelta(seconds=backoff_seconds(failures))
        new_backoff = NewBackoff(until=until, failures=failures, reason=f"{error.reason}: {message}")
    return Consequence(
        message=message,
        pause=pause,
        backoff=new_backoff,
        forget=forget,
        state_unknown=outcome_unknown(step, error),
    )
