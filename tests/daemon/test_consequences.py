"""consequence_of() as a pure function: from a failed step and its error to what follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from scaler.daemon.consequences import (
    BACKOFF_MAX_SECONDS,
    FORGOTTEN,
    ORG_ID_PAUSE,
    OUTCOME_UNKNOWN,
    Consequence,
    NewBackoff,
    backoff_seconds,
    consequence_of,
    outcome_unknown,
)
from scaler.daemon.calls import Step
from scaler.simplismart.errors import (
    AuthenticationError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    NotSent,
    OrganizationMismatch,
    QuotaExceeded,
    RequestTimeout,
    ServerError,
    SimplismartError,
    WalletBlocked,
)
from scaler.store import Backoff

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)
ID = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")
START = Step("start")
SCALE = Step("update_replicas", 1, 3)


def retried(error: SimplismartError, attempts: int = 2) -> SimplismartError:
    error.attempts = attempts
    return error


def test_backoff_doubles_from_a_minute_to_half_an_hour() -> None:
    """60 s, 120 s, 240 s ... capped at 1800 s."""
    assert [60.0, 120.0, 240.0, 960.0, 1800.0, 1800.0] == [backoff_seconds(n) for n in (1, 2, 3, 5, 6, 20)]
    assert BACKOFF_MAX_SECONDS == backoff_seconds(6)


def test_a_quota_refusal_backs_off_for_a_minute_after_the_first_failure() -> None:
    """The first refusal: one failure, a minute; the deployment is not forgotten, no pause."""
    consequence = consequence_of(SCALE, QuotaExceeded("no room"), stopped=False, backoff=None, at=AT)
    assert Consequence(
        message="no room", backoff=NewBackoff(until=AT + timedelta(minutes=1), failures=1, reason="quota: no room")
    ) == consequence
    assert "backing off until 2026-03-02T10:01:00Z (1 failures)" == consequence.summary(backoff_recorded=True)
    assert consequence.summary(backoff_recorded=False) is None


def test_a_refusal_during_a_backoff_doubles_it() -> None:
    """Two earlier failures: the third backs off four minutes."""
    earlier = Backoff(deployment_id=ID, until=AT, failures=2, reason="quota: no room")
    consequence = consequence_of(SCALE, InvalidRequest("bad bounds"), stopped=False, backoff=earlier, at=AT)
    assert NewBackoff(until=AT + timedelta(minutes=4), failures=3, reason="invalid_request: bad bounds") == (
        consequence.backoff
    )


@pytest.mark.parametrize(
    ("error", "pause"),
    [
        (AuthenticationError("token expired", status_code=401), "token"),
        (WalletBlocked("top up", status_code=402), "wallet"),
        (OrganizationMismatch("org does not match", status_code=400), "org_id"),
    ],
)
def test_organization_wide_refusals_pause_without_a_backoff(error: SimplismartError, pause: str) -> None:
    """Token, wallet and organization id refusals are not the deployment's fault: a pause, no backoff."""
    consequence = consequence_of(START, error, stopped=False, backoff=None, at=AT)
    assert (pause, None, False, False) == (
        consequence.pause,
        consequence.backoff,
        consequence.forget,
        consequence.state_unknown,
    )


def test_the_organization_id_pause_is_named_in_the_summary() -> None:
    consequence = consequence_of(START, OrganizationMismatch("org"), stopped=False, backoff=None, at=AT)
    assert ORG_ID_PAUSE == consequence.summary(backoff_recorded=False)


def test_not_found_forgets_the_deployment() -> None:
    """404: forgotten, and no backoff although NotFound is an API refusal."""
    consequence = consequence_of(SCALE, NotFound("gone", status_code=404), stopped=False, backoff=None, at=AT)
    assert (True, None, None) == (consequence.forget, consequence.backoff, consequence.pause)
    assert FORGOTTEN == consequence.summary(backoff_recorded=True)


@pytest.mark.parametrize(
    ("step", "error", "unknown"),
    [
        (SCALE, QuotaExceeded("no room"), False),
        (SCALE, retried(QuotaExceeded("no room")), True),
        (START, ServerError("oops", status_code=500), True),
        (START, RequestTimeout("slow"), True),
        (START, MalformedResponse("not json"), True),
        (Step("restart"), ServerError("oops", status_code=500), False),
        (Step("delete"), RequestTimeout("slow"), False),
    ],
)
def test_outcome_unknown_only_when_a_state_changing_call_may_have_landed(
    step: Step, error: SimplismartError, unknown: bool
) -> None:
    """A first refusal proves nothing happened; a retried or unanswered one does not."""
    assert unknown == outcome_unknown(step, error)
    assert unknown == consequence_of(step, error, stopped=False, backoff=None, at=AT).state_unknown


def test_an_unknown_outcome_after_a_retried_refusal_keeps_the_backoff_too() -> None:
    consequence = consequence_of(SCALE, retried(QuotaExceeded("no room")), stopped=False, backoff=None, at=AT)
    assert (
        f"backing off until 2026-03-02T10:01:00Z (1 failures); {OUTCOME_UNKNOWN}"
        == consequence.summary(backoff_recorded=True)
    )


def test_a_call_never_sent_is_only_deferred() -> None:
    """The fence closed before the first attempt: nothing follows, the message is the client's."""
    consequence = consequence_of(START, NotSent("this instance may no longer act"), stopped=False, backoff=None, at=AT)
    assert Consequence(message="this instance may no longer act", not_sent=True) == consequence


def test_a_retry_held_back_after_an_attempt_keeps_the_uncertainty() -> None:
    """NotSent after an earlier attempt: not deferred; the outcome is unknown and the message says why."""
    consequence = consequence_of(START, retried(NotSent("lost the lease")), stopped=False, backoff=None, at=AT)
    assert (False, True) == (consequence.not_sent, consequence.state_unknown)
    assert "an earlier attempt may have been delivered; then lost the lease" == consequence.message


def test_a_restart_that_stopped_but_could_not_start_says_so() -> None:
    error = ServerError("", status_code=503)
    consequence = consequence_of(Step("restart"), error, stopped=True, backoff=None, at=AT)
    assert "stopped, but the start failed: the platform answered HTTP 503 without a message" == consequence.message
    assert not consequence.not_sent
