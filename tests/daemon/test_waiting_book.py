"""The waiting book on its own: since when a plan waits, what is reported once, what stops waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from scaler.daemon.admission import Held
from scaler.daemon.calls import Calls, Step
from scaler.daemon.waiting import WaitingBook
from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
LLAMA = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")
WHISPER = UUID("5a1f1a3e-4b8c-4d2e-9f10-2b3c4d5e6f70")


def plan(deployment_id: UUID, target: DesiredState, kind: str = "change") -> Calls:
    deployment = Deployment.model_validate(
        {"deployment_id": str(deployment_id), "deployment_name": "d", "status": "DEPLOYED", "accelerator_type": ["cpu"]}
    )
    action = "delete" if kind == "expire" else "stop"
    return Calls(
        deployment=deployment,
        kind=kind,  # type: ignore[arg-type]
        steps=(Step(action),),  # type: ignore[arg-type]
        target=None if kind == "expire" else target,
        previous=None,
        policy="night",
        source="window:night",
        reason="test",
    )


def test_a_plan_waits_since_it_was_first_decided_until_it_changes() -> None:
    """The same plan decided again keeps its first instant; a different plan for the slot starts anew."""
    book = WaitingBook()
    stop = plan(LLAMA, DesiredState.stopped())
    assert NOW == book.note(stop, NOW)
    assert NOW == book.note(stop, NOW + timedelta(minutes=1))
    assert (NOW, {LLAMA}) == (book.since(LLAMA), book.deployments)
    running = plan(LLAMA, DesiredState.running())
    assert NOW + timedelta(minutes=2) == book.note(running, NOW + timedelta(minutes=2))


def test_a_held_plan_is_new_until_reported_and_again_once_done() -> None:
    """Reported once while it stays the same; after it ran, the same plan held again is new."""
    book = WaitingBook()
    held = Held(plan(LLAMA, DesiredState.stopped()), "deferred", "budget")
    assert True is book.is_new(held)
    book.reported(held)
    assert False is book.is_new(held)
    assert True is book.is_new(Held(held.plan, "blocked", "wallet"))
    book.done(held.plan)
    assert (True, set()) == (book.is_new(held), book.deployments)


def test_a_cycle_over_everything_ends_the_waits_it_no_longer_plans() -> None:
    """Slots a full cycle made no plan for stop waiting; a partial cycle ends only those it covered."""
    book = WaitingBook()
    llama, whisper = plan(LLAMA, DesiredState.stopped()), plan(WHISPER, DesiredState.stopped())
    book.note(llama, NOW)
    book.note(whisper, NOW)
    book.settle([llama], every_deployment=False, covering=())
    assert {LLAMA, WHISPER} == book.deployments
    book.settle([], every_deployment=False, covering=[WHISPER])
    assert {LLAMA} == book.deployments
    book.settle([], every_deployment=True, covering=())
    assert set() == book.deployments


def test_the_expiry_and_the_state_wait_apart() -> None:
    """A deletion waiting does not replace the state plan waiting for the same deployment."""
    book = WaitingBook()
    book.note(plan(LLAMA, DesiredState.stopped(), kind="expire"), NOW)
    book.note(plan(LLAMA, DesiredState.stopped()), NOW + timedelta(minutes=1))
    assert NOW + timedelta(minutes=1) == book.since(LLAMA)
    book.forget(LLAMA)
    assert (None, set()) == (book.since(LLAMA), book.deployments)
