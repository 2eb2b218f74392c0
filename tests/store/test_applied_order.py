"""An applied state is never replaced, nor forgotten, by a write decided at an earlier instant.

A former leader that wakes after a long pause finishes the actions it decided before
it lost the lease: whatever it writes then must not undo what the new leader decided
and recorded meanwhile.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from scaler.store import AppliedState, Store
from tests.store.conftest import at, intent


def stopped(decided_minutes: float, **fields: object) -> AppliedState:
    return AppliedState(kind="stopped", applied_at=at(decided_minutes), decided_at=at(decided_minutes), **fields)  # type: ignore[arg-type]


def bounds(decided_minutes: float, low: int, high: int) -> AppliedState:
    return AppliedState(
        kind="bounds", applied_at=at(decided_minutes), min_replicas=low, max_replicas=high, decided_at=at(decided_minutes)
    )


def test_a_state_decided_earlier_does_not_replace_a_newer_one(store: Store) -> None:
    """Decided at 08:05, then a late write decided at 08:01: the 08:05 state stays."""
    deployment = uuid4()
    store.set_applied(deployment, bounds(5, 1, 3))
    store.set_applied(deployment, stopped(1))
    applied = store.get_applied(deployment)
    assert applied is not None and ("bounds", at(5)) == (applied.kind, applied.decided_at)


def test_a_state_decided_later_replaces_the_one_on_record(store: Store) -> None:
    """Decisions in order replace each other, and a plan's remaining calls are kept with the state."""
    deployment = uuid4()
    store.set_applied(deployment, stopped(1))
    store.set_applied(deployment, replace(bounds(5, 1, 3), remaining=("start",)))
    applied = store.get_applied(deployment)
    assert applied is not None and ("bounds", ("start",)) == (applied.kind, applied.remaining)


def test_a_late_success_decided_earlier_does_not_replace_the_newer_state(store: Store) -> None:
    """An action decided at 08:01 finishes after a state decided at 08:05 was written: the audit record is
    finished, the applied state stays the newer one."""
    deployment = uuid4()
    action_id = store.begin_action(intent(deployment, "stop", minutes=1))
    store.set_applied(deployment, bounds(5, 1, 3))
    store.finish_action(action_id, result="success", finished_at=at(6), applied=stopped(1))
    record = store.get_action(action_id)
    applied = store.get_applied(deployment)
    assert record is not None and "success" == record.result
    assert applied is not None and (1, 3) == (applied.min_replicas, applied.max_replicas)


def test_an_unknown_outcome_forgets_only_a_state_not_newer_than_its_decision(store: Store) -> None:
    """An unknown outcome of an action decided at 08:01 forgets a state decided at 08:00, not one decided at 08:05."""
    older, newer = uuid4(), uuid4()
    for deployment, decided in ((older, 0), (newer, 5)):
        store.set_applied(deployment, stopped(decided))
        action_id = store.begin_action(intent(deployment, "update_replicas", minutes=1))
        store.finish_action(action_id, result="error", finished_at=at(6), state_unknown=True)
    assert None is store.get_applied(older)
    assert store.get_applied(newer) is not None
