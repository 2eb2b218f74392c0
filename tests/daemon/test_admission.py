"""admit() as a pure function: most urgent first, the gates, then the cycle's budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_DNS, uuid5

from scaler.daemon.admission import (
    OPEN_GATES,
    ORG_ID_REFUSED,
    TOKEN_REFUSED,
    WALLET_BLOCKED,
    Admission,
    Gates,
    Passage,
    Waiting,
    admit,
    over_budget,
)
from scaler.daemon.calls import Calls, Step
from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment
from scaler.store import AppliedState

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def plan(name: str, *actions: str, blocked: str | None = None, kind: str = "change") -> Calls:
    deployment = Deployment.model_validate(
        {
            "deployment_id": str(uuid5(NAMESPACE_DNS, name)),
            "deployment_name": name,
            "status": "DEPLOYED",
            "accelerator_type": ["nvidia-l4"],
        }
    )
    steps = tuple(Step("update_replicas", 1, 3) if action == "scale" else Step(action) for action in actions)  # type: ignore[arg-type]
    return Calls(
        deployment=deployment,
        kind=kind,  # type: ignore[arg-type]
        steps=steps,
        target=DesiredState.running() if "start" in actions else DesiredState.stopped(),
        previous=AppliedState(kind="bounds", applied_at=NOW, min_replicas=1, max_replicas=3),
        policy="office",
        source="window:office",
        reason="test",
        blocked=blocked,
    )


def waiting(*plans: Calls, since: dict[str, datetime] | None = None) -> list[Waiting]:
    since = since or {}
    return [Waiting(each, since.get(each.deployment.deployment_name, NOW)) for each in plans]


def names(admission: Admission) -> tuple[list[str], list[tuple[str, str, str]]]:
    return (
        [entry.plan.deployment.deployment_name for entry in admission.admitted],
        [(entry.plan.deployment.deployment_name, entry.result, entry.why) for entry in admission.held],
    )


def test_money_saving_plans_go_first_then_the_longest_waiting() -> None:
    """Stops before starts, deletions last; among starts the one deferred earlier goes first."""
    plans = waiting(
        plan("a-start", "start"),
        plan("b-start", "start"),
        plan("z-stop", "stop"),
        plan("c-delete", "delete", kind="expire"),
        since={"b-start": NOW - timedelta(minutes=5)},
    )
    admission = admit(plans, gates=OPEN_GATES, budget=10)
    assert (["z-stop", "b-start", "a-start", "c-delete"], []) == names(admission)


def test_the_budget_defers_what_does_not_fit_and_never_splits_a_plan() -> None:
    """Budget 2: the stop and one start fit; the two-action plan after them is deferred, a later one-action plan goes."""
    admission = admit(
        waiting(plan("a", "stop"), plan("b", "start"), plan("c", "scale", "start"), plan("d", "start")),
        gates=OPEN_GATES,
        budget=2,
    )
    assert (["a", "b"], [("c", "deferred", over_budget(2)), ("d", "deferred", over_budget(2))]) == names(admission)


def test_the_first_plan_of_a_cycle_always_goes() -> None:
    """A two-action plan under a budget of 1 would otherwise never run."""
    admission = admit(waiting(plan("a", "scale", "start"), plan("b", "start")), gates=OPEN_GATES, budget=1)
    assert (["a"], [("b", "deferred", over_budget(1))]) == names(admission)


def test_a_plan_without_calls_takes_no_slot_and_passes_every_gate() -> None:
    gates = Gates(api_paused=True, startstop="closed", spend="closed")
    admission = admit(waiting(plan("a", "stop"), plan("b")), gates=gates, budget=1)
    assert (["b"], [("a", "blocked", TOKEN_REFUSED)]) == names(admission)


def test_a_plan_blocked_by_configuration_is_held_first() -> None:
    admission = admit(
        waiting(plan("a", "stop"), plan("b", "delete", blocked="deletion not allowed", kind="expire")),
        gates=OPEN_GATES,
        budget=5,
    )
    assert (["a"], [("b", "blocked", "deletion not allowed")]) == names(admission)


def test_a_gate_held_plan_takes_no_slot_of_the_budget() -> None:
    """Wallet blocked, budget 1: the start waits for the wallet; the stop after it still goes."""
    admission = admit(
        waiting(plan("a", "start"), plan("b", "stop"), since={"a": NOW - timedelta(hours=1)}),
        gates=Gates(spend="closed"),
        budget=1,
    )
    assert (["b"], [("a", "blocked", WALLET_BLOCKED)]) == names(admission)


def test_the_wallet_probe_goes_to_the_most_urgent_plan_that_increases_spend() -> None:
    """Probe due: the first start carries it, the second waits; the scale-down goes without it."""
    admission = admit(
        waiting(plan("a", "start"), plan("b", "start"), plan("c", "stop")), gates=Gates(spend="probe_due"), budget=5
    )
    assert (["c", "a"], [("b", "blocked", WALLET_BLOCKED)]) == names(admission)
    assert [Passage(), Passage(spend="probe")] == [entry.passage for entry in admission.admitted]


def test_a_refused_organization_id_holds_starts_and_stops_but_not_scaling() -> None:
    admission = admit(waiting(plan("a", "stop"), plan("b", "scale")), gates=Gates(startstop="closed"), budget=5)
    assert (["b"], [("a", "blocked", ORG_ID_REFUSED)]) == names(admission)


def test_the_org_probe_of_a_plan_the_wallet_holds_passes_to_the_next() -> None:
    """Organization id probe due, wallet closed: the start is held by the wallet and keeps no probe,
    so the next plan with a stop (a deletion that stops first, which sorts after it) carries it."""
    admission = admit(
        waiting(plan("a", "start"), plan("b", "stop", "delete", kind="expire")),
        gates=Gates(startstop="probe_due", spend="closed"),
        budget=5,
    )
    assert (["b"], [("a", "blocked", WALLET_BLOCKED)]) == names(admission)
    assert [Passage(org_probe=True)] == [entry.passage for entry in admission.admitted]


def test_one_plan_may_carry_both_probes() -> None:
    admission = admit(waiting(plan("a", "start")), gates=Gates(startstop="probe_due", spend="probe_due"), budget=5)
    assert [Passage(spend="probe", org_probe=True)] == [entry.passage for entry in admission.admitted]


def test_a_plan_deferred_by_the_budget_takes_no_probe_and_no_later_plan_gets_it() -> None:
    """The probe goes to the first start at the gates; the budget then defers it: no plan carries the probe."""
    admission = admit(
        waiting(plan("a", "stop"), plan("b", "scale", "start"), plan("c", "start")),
        gates=Gates(spend="probe_due"),
        budget=2,
    )
    assert (["a"], [("c", "blocked", WALLET_BLOCKED), ("b", "deferred", over_budget(2))]) == names(admission)
    assert [Passage()] == [entry.passage for entry in admission.admitted]


def test_a_refused_token_holds_every_plan_that_sends_calls() -> None:
    admission = admit(waiting(plan("a", "stop"), plan("b", "scale")), gates=Gates(api_paused=True), budget=5)
    assert ([], [("a", "blocked", TOKEN_REFUSED), ("b", "blocked", TOKEN_REFUSED)]) == names(admission)
