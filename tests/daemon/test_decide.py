"""decide() as a pure function: edge and level, the calls for each state, skips, backoff, urgency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from scaler.daemon.calls import INCREASES_SPEND, SAVES_MONEY, Calls, urgency
from scaler.daemon.decide import decide
from scaler.daemon.realized_savings import state_in_effect
from scaler.policy import DesiredState, Resolution
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.store import AppliedState, Backoff

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
ID = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")


def deployment(status: str = "DEPLOYED", name: str = "llama") -> Deployment:
    return Deployment.model_validate(
        {"deployment_id": str(ID), "deployment_name": name, "status": status, "accelerator_type": ["nvidia-l4"]}
    )


def resolution(desired: DesiredState | None, **fields: object) -> Resolution:
    return Resolution(policy="office", desired=desired, source=str(fields.pop("source", "window:office")), **fields)  # type: ignore[arg-type]


def applied(kind: str, low: int | None = None, high: int | None = None) -> AppliedState:
    return AppliedState(kind=kind, applied_at=NOW - timedelta(hours=1), min_replicas=low, max_replicas=high)  # type: ignore[arg-type]


def steps(plan: Calls) -> list[str]:
    return [step.describe() for step in plan.steps]


@pytest.mark.parametrize(
    ("desired", "status", "expected"),
    [
        (DesiredState.stopped(), "DEPLOYED", ["stop"]),
        (DesiredState.stopped(), "SCALED_DOWN", []),
        (DesiredState.running(), "SCALED_DOWN", ["start"]),
        (DesiredState.running(), "DEPLOYED", []),
        (DesiredState.bounds(1, 3), "DEPLOYED", ["update_replicas min=1 max=3"]),
        (DesiredState.bounds(1, 3), "SCALED_DOWN", ["update_replicas min=1 max=3", "start"]),
        (DesiredState.bounds(0, 3), "SCALED_DOWN", ["update_replicas min=0 max=3"]),
    ],
)
def test_the_calls_for_each_state_on_first_sight(desired: DesiredState, status: str, expected: list[str]) -> None:
    """First sight applies the state with the calls its status needs (none: only noted)."""
    decision = decide(deployment(status), resolution(desired), applied=None, now=NOW, allow_delete=False)
    assert [expected] == [steps(plan) for plan in decision.plans]
    assert "first_sight" == decision.plans[0].kind


def test_nothing_is_done_when_the_applied_state_is_desired_without_enforce() -> None:
    """enforce off: stopped applied, running observed (a person started it): no plan."""
    decision = decide(
        deployment("DEPLOYED"),
        resolution(DesiredState.stopped()),
        applied=applied("stopped"),
        now=NOW,
        allow_delete=False,
    )
    assert ((), None) == (decision.plans, decision.skip)


def test_enforce_corrects_drift() -> None:
    """enforce on: stopped applied, running observed: stop."""
    decision = decide(
        deployment("DEPLOYED"),
        resolution(DesiredState.stopped(), enforce=True),
        applied=applied("stopped"),
        now=NOW,
        allow_delete=False,
    )
    assert [("drift", ["stop"])] == [(plan.kind, steps(plan)) for plan in decision.plans]


def test_enforce_leaves_a_deployment_scaled_to_zero_alone() -> None:
    """enforce on, bounds with min 0 applied, SCALED_DOWN observed: legitimately scaled to zero."""
    decision = decide(
        deployment("SCALED_DOWN"),
        resolution(DesiredState.bounds(0, 2), enforce=True),
        applied=applied("bounds", 0, 2),
        now=NOW,
        allow_delete=False,
    )
    assert () == decision.plans


@pytest.mark.parametrize("status", ["DEPLOYING", "FAILED", "DELETING", "DELETED", "PENDING-REVIEW"])
def test_statuses_other_than_deployed_and_scaled_down_are_skipped(status: str) -> None:
    """The skip names the status as the platform wrote it."""
    decision = decide(deployment(status), resolution(DesiredState.stopped()), applied=None, now=NOW, allow_delete=True)
    label = "PENDING-REVIEW" if status == "PENDING-REVIEW" else status
    assert ((), f"status {label}: the scaler acts only on DEPLOYED and SCALED_DOWN deployments") == (
        decision.plans,
        decision.skip,
    )


def test_a_backoff_holds_plans_that_increase_spend_but_not_those_that_save() -> None:
    """While backing off, a scale-up waits and a stop goes on."""
    backoff = Backoff(deployment_id=ID, until=NOW + timedelta(minutes=1), failures=1, reason="quota: no room")
    up = decide(
        deployment("DEPLOYED"),
        resolution(DesiredState.bounds(2, 4)),
        applied=applied("bounds", 1, 2),
        now=NOW,
        allow_delete=False,
        backoff=backoff,
    )
    down = decide(
        deployment("DEPLOYED"),
        resolution(DesiredState.stopped()),
        applied=applied("bounds", 1, 2),
        now=NOW,
        allow_delete=False,
        backoff=backoff,
    )
    assert "backing off until 2026-03-02T10:01:00Z after 1 failures (quota: no room)" == up.skip
    assert [["stop"]] == [steps(plan) for plan in down.plans]


def test_an_expiry_without_permission_is_blocked_and_the_schedule_goes_on() -> None:
    """Expired, deletion not allowed: a blocked delete, and the stop the schedule asks for."""
    decision = decide(
        deployment("DEPLOYED"),
        resolution(DesiredState.stopped(), expire_at=NOW - timedelta(seconds=1)),
        applied=None,
        now=NOW,
        allow_delete=False,
    )
    assert [(["delete"], True), (["stop"], False)] == [
        (steps(plan), plan.blocked is not None) for plan in decision.plans
    ]


def test_urgency_puts_savings_first_then_waiting_plans_then_spend() -> None:
    """Sorted: a stop before starts; among starts the older plan before the newer one."""
    start = decide(
        deployment("SCALED_DOWN", "a"), resolution(DesiredState.running()), applied=None, now=NOW, allow_delete=False
    ).plans[0]
    stop = decide(
        deployment("DEPLOYED", "b"), resolution(DesiredState.stopped()), applied=None, now=NOW, allow_delete=False
    ).plans[0]
    old_start = decide(
        deployment("SCALED_DOWN", "c"), resolution(DesiredState.running()), applied=None, now=NOW, allow_delete=False
    ).plans[0]
    since = {id(start): NOW, id(stop): NOW, id(old_start): NOW - timedelta(minutes=1)}
    ordered = sorted([start, stop, old_start], key=lambda plan: urgency(plan, since[id(plan)]))
    assert ["b", "c", "a"] == [plan.deployment.deployment_name for plan in ordered]
    assert (INCREASES_SPEND, SAVES_MONEY) == (start.urgency_class, stop.urgency_class)


@pytest.mark.parametrize(
    ("kind", "low", "status", "expected"),
    [
        ("stopped", None, "SCALED_DOWN", "stopped"),
        ("stopped", None, "DEPLOYED", None),
        ("bounds", 1, "DEPLOYED", "min=1 max=3"),
        ("bounds", 0, "SCALED_DOWN", "min=0 max=3"),
        ("bounds", 1, "SCALED_DOWN", None),
        ("running", None, "DEPLOYED", "running"),
    ],
)
def test_the_state_in_effect_is_the_applied_one_only_when_the_status_confirms_it(
    kind: str, low: int | None, status: str, expected: str | None
) -> None:
    """Savings count only a state the platform's status confirms."""
    state = applied(kind, low, 3 if kind == "bounds" else None)
    effect = state_in_effect(state, DeploymentStatus(status))
    assert expected == (effect.describe() if effect is not None else None)


@pytest.mark.parametrize(
    ("reference", "kept"),
    [((1, 2), True), ((0, 1), True), (None, False)],
    ids=["below the default", "the policy's lowest state", "no reference: counted as raising"],
)
def test_a_scale_down_with_unknown_bounds_goes_on_during_a_quota_backoff(
    reference: tuple[int, int] | None, kept: bool
) -> None:
    """Nothing applied on record (an outcome left unknown): 0..1 is judged against the policy's bounds, and a
    change not above them saves money, so a quota backoff does not hold it."""
    backoff = Backoff(deployment_id=ID, until=NOW + timedelta(minutes=1), failures=1, reason="quota: no room")
    decision = decide(
        deployment("DEPLOYED"),
        resolution(DesiredState.bounds(0, 1)),
        applied=None,
        now=NOW,
        allow_delete=False,
        backoff=backoff,
        spend_reference=reference,
    )
    assert kept == bool(decision.plans)
    if kept:
        assert SAVES_MONEY == decision.plans[0].urgency_class
