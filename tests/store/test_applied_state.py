"""What the scaler last applied to each deployment: written with a successful action, read back whole."""

from __future__ import annotations

from uuid import uuid4

import pytest

from scaler.store import AppliedState, Store
from tests.store.conftest import at, intent


def test_nothing_applied_yet_is_none(store: Store) -> None:
    """A deployment the scaler never acted on has no applied state."""
    assert store.get_applied(uuid4()) is None


def test_successful_action_records_the_applied_state_with_its_action(store: Store) -> None:
    """finish_action(success, applied=...) stores the state, linked to the audit record."""
    deployment = uuid4()
    action_id = store.begin_action(intent(deployment, "update_replicas"))
    state = AppliedState(
        kind="bounds",
        applied_at=at(1),
        min_replicas=2,
        max_replicas=8,
        policy="peak",
        rule="warm-up",
        source="window peak",
    )
    store.finish_action(action_id, result="success", finished_at=at(1), applied=state)
    expected = AppliedState(
        kind="bounds",
        applied_at=at(1),
        min_replicas=2,
        max_replicas=8,
        policy="peak",
        rule="warm-up",
        source="window peak",
        action_id=action_id,
    )
    assert expected == store.get_applied(deployment)


def test_later_state_replaces_the_earlier_one(store: Store) -> None:
    """Only the last applied state is kept per deployment."""
    deployment = uuid4()
    store.set_applied(deployment, AppliedState(kind="running", applied_at=at(0), source="default"))
    store.set_applied(deployment, AppliedState(kind="stopped", applied_at=at(60), source="window night"))
    assert ("stopped", at(60)) == (store.get_applied(deployment).kind, store.get_applied(deployment).applied_at)  # type: ignore[union-attr]


def test_all_applied_returns_every_deployment(store: Store) -> None:
    """all_applied maps each deployment id to its state."""
    first, second = uuid4(), uuid4()
    store.set_applied(first, AppliedState(kind="running", applied_at=at(0)))
    store.set_applied(second, AppliedState(kind="stopped", applied_at=at(1)))
    assert {first: "running", second: "stopped"} == {key: s.kind for key, s in store.all_applied().items()}


def test_failed_action_leaves_the_applied_state_alone(store: Store) -> None:
    """An error outcome records the error and keeps the previous applied state."""
    deployment = uuid4()
    store.set_applied(deployment, AppliedState(kind="running", applied_at=at(0)))
    action_id = store.begin_action(intent(deployment, "stop"))
    store.finish_action(action_id, result="error", finished_at=at(1), error_reason="quota")
    assert "running" == store.get_applied(deployment).kind  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "paused"}, "kind must be one of"),
        ({"kind": "bounds", "min_replicas": 3, "max_replicas": 1}, "0 <= min_replicas <= max_replicas"),
        ({"kind": "bounds", "min_replicas": -1, "max_replicas": 1}, "0 <= min_replicas <= max_replicas"),
        ({"kind": "bounds", "min_replicas": 1}, "0 <= min_replicas <= max_replicas"),
        ({"kind": "stopped", "min_replicas": 0, "max_replicas": 0}, "a stopped state has no replica bounds"),
    ],
)
def test_inconsistent_applied_state_is_refused(fields: dict[str, object], message: str) -> None:
    """An applied state must make sense: a known kind, and bounds only (and always) for ``bounds``."""
    with pytest.raises(ValueError, match=message):
        AppliedState(applied_at=at(0), **fields)  # type: ignore[arg-type]


def test_applied_state_on_an_unsuccessful_outcome_is_refused(store: Store) -> None:
    """Only success changes what is applied: passing ``applied`` with an error is a bug in the caller."""
    action_id = store.begin_action(intent())
    with pytest.raises(ValueError, match="only a successful action"):
        store.finish_action(
            action_id, result="error", finished_at=at(1), applied=AppliedState(kind="stopped", applied_at=at(1))
        )
    assert [action_id] == [a.id for a in store.pending_actions()]


def test_an_outcome_that_may_have_taken_effect_forgets_the_applied_state(store: Store) -> None:
    """state_unknown: the call may have landed, so nothing stays on record, in the same transaction as the outcome."""
    deployment, other = uuid4(), uuid4()
    store.set_applied(deployment, AppliedState(kind="bounds", applied_at=at(0), min_replicas=1, max_replicas=2))
    store.set_applied(other, AppliedState(kind="running", applied_at=at(0)))
    action_id = store.begin_action(intent(deployment, "update_replicas"))
    store.finish_action(action_id, result="error", finished_at=at(1), error_reason="timeout", state_unknown=True)
    record = store.get_action(action_id)
    assert record is not None and "error" == record.result
    assert store.get_applied(deployment) is None
    assert {other} == set(store.all_applied())


def test_an_unknown_state_on_a_success_is_refused(store: Store) -> None:
    """A success's effect is known: state_unknown with it is a bug in the caller, and nothing is written."""
    deployment = uuid4()
    store.set_applied(deployment, AppliedState(kind="running", applied_at=at(0)))
    action_id = store.begin_action(intent(deployment, "stop"))
    with pytest.raises(ValueError, match="state_unknown needs another result"):
        store.finish_action(action_id, result="success", finished_at=at(1), state_unknown=True)
    assert "running" == store.get_applied(deployment).kind  # type: ignore[union-attr]
    assert [action_id] == [a.id for a in store.pending_actions()]
