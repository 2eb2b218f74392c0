"""The audit log, written ahead of every action: pending before the call, finished after it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from scaler.store import ActionNotPending, ActionOutcome, AppliedState, Store, open_store
from tests.store.conftest import at, intent


def test_begun_action_is_pending_with_its_intent(store: Store) -> None:
    """begin_action records every field of the intent with result pending and no finish time."""
    deployment = uuid4()
    action_id = store.begin_action(
        intent(
            deployment,
            "update_replicas",
            parameters={"min_replicas": 0, "max_replicas": 2},
            reason="window night opened",
            policy="office-hours",
            rule="night",
            dry_run=False,
        )
    )
    record = store.get_action(action_id)
    assert record is not None
    assert (
        deployment,
        "llama-prod",
        "update_replicas",
        {"min_replicas": 0, "max_replicas": 2},
        "window night opened",
        "office-hours",
        "night",
        "pending",
        False,
        at(0),
        None,
    ) == (
        record.deployment_id,
        record.deployment_name,
        record.action,
        record.parameters,
        record.reason,
        record.policy,
        record.rule,
        record.result,
        record.dry_run,
        record.started_at,
        record.finished_at,
    )


def test_finished_action_keeps_the_platform_answer(store: Store) -> None:
    """finish_action records result, finish time, platform message, request id and error reason."""
    action_id = store.begin_action(intent())
    store.finish_action(
        action_id,
        result="error",
        finished_at=at(1),
        platform_message="Quota exceeded for nvidia-h100",
        request_id="req-123",
        error_reason="quota",
    )
    record = store.get_action(action_id)
    assert record is not None
    assert ("error", at(1), "Quota exceeded for nvidia-h100", "req-123", "quota", False) == (
        record.result,
        record.finished_at,
        record.platform_message,
        record.request_id,
        record.error_reason,
        record.pending,
    )


def test_pending_actions_lists_only_unfinished_ones_oldest_first(store: Store) -> None:
    """Crash recovery sees exactly the intents without an outcome."""
    first = store.begin_action(intent(minutes=0))
    done = store.begin_action(intent(minutes=1))
    second = store.begin_action(intent(minutes=2))
    store.finish_action(done, result="success", finished_at=at(3))
    assert [first, second] == [a.id for a in store.pending_actions()]


def test_pending_action_survives_a_reopen(state_url: str) -> None:
    """An intent recorded before a crash is still pending when the store is opened again."""
    with open_store(state_url) as store:
        action_id = store.begin_action(intent())
    with open_store(state_url) as reopened:
        assert [(action_id, "pending")] == [(a.id, a.result) for a in reopened.pending_actions()]


def test_finishing_twice_is_refused(store: Store) -> None:
    """An outcome is recorded once; a second one raises ActionNotPending and changes nothing."""
    action_id = store.begin_action(intent())
    store.finish_action(action_id, result="success", finished_at=at(1))
    with pytest.raises(ActionNotPending, match=str(action_id)):
        store.finish_action(action_id, result="error", finished_at=at(2))
    assert "success" == store.get_action(action_id).result  # type: ignore[union-attr]


def test_finishing_an_unknown_action_is_refused(store: Store) -> None:
    """An id that was never begun raises ActionNotPending."""
    with pytest.raises(ActionNotPending):
        store.finish_action(999_999, result="success", finished_at=at(1))


def test_pending_is_not_an_outcome(store: Store) -> None:
    """finish_action needs a final result."""
    action_id = store.begin_action(intent())
    with pytest.raises(ValueError, match="an outcome's result must be one of"):
        store.finish_action(action_id, result="pending", finished_at=at(1))


def test_batch_finish_is_all_or_nothing(store: Store) -> None:
    """One already-finished action in a batch leaves every action of the batch as it was."""
    deployment = uuid4()
    first = store.begin_action(intent(deployment))
    finished = store.begin_action(intent())
    store.finish_action(finished, result="success", finished_at=at(1))
    applied = AppliedState(kind="stopped", applied_at=at(2))
    with pytest.raises(ActionNotPending):
        store.finish_actions(
            [
                (first, ActionOutcome(result="success", finished_at=at(2), applied=applied)),
                (finished, ActionOutcome(result="error", finished_at=at(2))),
            ]
        )
    assert ("pending", None) == (store.get_action(first).result, store.get_applied(deployment))  # type: ignore[union-attr]


def test_batch_begin_and_finish_record_every_action(store: Store) -> None:
    """A cycle's actions are begun and finished in two transactions, with their applied states."""
    deployments = [uuid4() for _ in range(50)]
    ids = store.begin_actions([intent(d, "stop") for d in deployments])
    store.finish_actions(
        [(i, ActionOutcome(result="success", finished_at=at(1), applied=AppliedState("stopped", at(1)))) for i in ids]
    )
    assert (50, [], {d: "stopped" for d in deployments}) == (
        len(set(ids)),
        store.pending_actions(),
        {d: s.kind for d, s in store.all_applied().items()},
    )


def test_record_actions_stores_decisions_that_send_no_call(store: Store) -> None:
    """Dry-run, deferred and blocked decisions are recorded finished, in one call."""
    deployment = uuid4()
    ids = store.record_actions(
        [
            (intent(deployment, "stop", dry_run=True), ActionOutcome(result="dry_run", finished_at=at(0))),
            (
                intent(deployment, "start"),
                ActionOutcome(result="deferred", finished_at=at(0), error_reason="max_actions"),
            ),
            (
                intent(deployment, "delete"),
                ActionOutcome(result="blocked", finished_at=at(0), error_reason="allow_delete"),
            ),
        ]
    )
    records = {r.id: r for r in store.recent_actions()}
    assert [("dry_run", True), ("deferred", False), ("blocked", False)] == [
        (records[i].result, records[i].dry_run) for i in ids
    ]
    assert [] == store.pending_actions()


def test_recent_actions_newest_first_with_limit(store: Store) -> None:
    """recent_actions returns the latest ``limit`` records, newest first."""
    ids = store.begin_actions([intent(minutes=m) for m in range(5)])
    assert ids[:1:-1] == [a.id for a in store.recent_actions(limit=3)]


def test_recent_actions_of_one_deployment(store: Store) -> None:
    """deployment_id narrows recent_actions to that deployment."""
    mine, other = uuid4(), uuid4()
    ids = store.begin_actions([intent(mine), intent(other), intent(mine)])
    assert [ids[2], ids[0]] == [a.id for a in store.recent_actions(deployment_id=mine)]


def test_latest_actions_gives_each_deployments_newest_record(store: Store) -> None:
    """latest_actions: the newest audit record of every deployment that has one, in one answer."""
    first, second, never = uuid4(), uuid4(), uuid4()
    ids = store.begin_actions([intent(first, "stop"), intent(second, "start", 1), intent(first, "start", 2)])
    latest = store.latest_actions()
    assert {first: ids[2], second: ids[1]} == {key: record.id for key, record in latest.items()}
    assert ("start", first) == (latest[first].action, latest[first].deployment_id)
    assert never not in latest


def test_latest_actions_of_an_empty_log_is_empty(store: Store) -> None:
    """No audit record yet: an empty answer."""
    assert {} == store.latest_actions()


def test_count_actions_counts_one_action_since_an_instant(store: Store) -> None:
    """count_actions counts a deployment's successful actions of one kind since ``since``."""
    deployment = uuid4()
    old, recent, other_kind, failed = store.begin_actions(
        [
            intent(deployment, "restart", -2000),
            intent(deployment, "restart", 0),
            intent(deployment, "stop", 0),
            intent(deployment, "restart", 5),
        ]
    )
    for action_id in (old, recent, other_kind):
        store.finish_action(action_id, result="success", finished_at=at(10))
    store.finish_action(failed, result="error", finished_at=at(10))
    assert (1, 2) == (
        store.count_actions(deployment, "restart", since=at(-1440)),
        store.count_actions(deployment, "restart", since=at(-1440), results=("success", "error")),
    )


def test_prune_deletes_old_finished_records_only(store: Store) -> None:
    """Retention removes finished records started before the cut-off, never pending ones, and
    keeps the applied state of a pruned action."""
    deployment = uuid4()
    old_done, old_pending, new_done = store.begin_actions(
        [intent(deployment, minutes=-100), intent(minutes=-100), intent(minutes=0)]
    )
    store.finish_action(old_done, result="success", finished_at=at(-99), applied=AppliedState("stopped", at(-99)))
    store.finish_action(new_done, result="success", finished_at=at(1))
    assert 1 == store.prune_actions(before=at(-50))
    assert ([new_done, old_pending], "stopped", None) == (
        [a.id for a in store.recent_actions()],
        store.get_applied(deployment).kind,  # type: ignore[union-attr]
        store.get_applied(deployment).action_id,  # type: ignore[union-attr]
    )


def test_action_ids_are_never_reused(state_url: str) -> None:
    """After pruning the newest record, the next action still gets a new id."""
    with open_store(state_url) as store:
        (last,) = store.begin_actions([intent(minutes=-100)])
        store.finish_action(last, result="success", finished_at=at(-99))
        store.prune_actions(before=at(0))
        assert store.begin_action(intent()) > last


def test_parameters_must_be_json() -> None:
    """Parameters that cannot be stored as JSON are refused before anything is written."""
    with pytest.raises(ValueError, match="parameters must be JSON-serializable"):
        intent(parameters={"when": at(0)})
