"""Whole-table reads kept between calls stay true: after the store's own writes, and after another process's."""

from __future__ import annotations

from uuid import uuid4

from scaler.store import ActionOutcome, AppliedState, Backoff, HealthTrack, Store, open_store
from tests.store.conftest import at, intent


def _read_everything(store: Store) -> None:
    """Read every table the store keeps between calls, so that the next reads may come from memory."""
    store.all_applied()
    store.health_tracks()
    store.all_rule_memory()
    store.backoffs()
    store.mark_seen([], at(0))


def test_own_writes_show_in_the_next_whole_table_reads(store: Store) -> None:
    """Each write path of a kept table shows in the next read of that table, read whole before."""
    first, second, third = uuid4(), uuid4(), uuid4()
    store.set_applied(first, AppliedState(kind="running", applied_at=at(0)))
    _read_everything(store)

    store.set_applied(second, AppliedState(kind="stopped", applied_at=at(1)))
    action_id = store.begin_action(intent(third, minutes=2))
    store.finish_action(
        action_id, result="success", finished_at=at(2), applied=AppliedState(kind="stopped", applied_at=at(2))
    )
    assert {first, second, third} == set(store.all_applied())

    unknown = store.begin_action(intent(second, minutes=3))
    store.finish_action(unknown, result="error", finished_at=at(3), state_unknown=True)
    recorded = intent(first, minutes=4, dry_run=False)
    store.record_actions(
        [(recorded, ActionOutcome(result="success", finished_at=at(4), applied=AppliedState(kind="stopped", applied_at=at(4))))]
    )
    applied = store.all_applied()
    assert {first, third} == set(applied)
    assert "stopped" == applied[first].kind

    store.record_health([(first, "Degraded", at(5))])
    assert {first: HealthTrack("Degraded", at(5), at(5))} == store.health_tracks()
    store.put_rule_memory([(first, "p", "r", {"fired": 1})])
    assert {first: {("p", "r"): {"fired": 1}}} == store.all_rule_memory()
    store.set_backoff(first, at(30), 2, "quota")
    assert {first: Backoff(first, at(30), 2, "quota")} == store.backoffs()

    store.forget(first)
    assert {third} == set(store.all_applied())
    assert {} == store.health_tracks()
    assert {} == store.all_rule_memory()
    assert {} == store.backoffs()
    store.set_backoff(third, at(30), 1, "quota")
    assert store.clear_backoff(third)
    assert {} == store.backoffs()
    store.put_rule_memory([(third, "p", "r", {"fired": 2})])
    store.put_rule_memory([(third, "p", "r", None)])
    assert {} == store.all_rule_memory()


def test_a_returned_rule_memory_changed_by_its_reader_does_not_change_the_next_read(store: Store) -> None:
    """Each reader of the rules' memory gets values of its own."""
    deployment = uuid4()
    store.put_rule_memory([(deployment, "p", "r", {"fired": [1]})])
    store.all_rule_memory()[deployment][("p", "r")]["fired"].append(2)
    assert {deployment: {("p", "r"): {"fired": [1]}}} == store.all_rule_memory()


def test_another_process_writes_show_in_the_next_reads(state_url: str) -> None:
    """What another connection writes (a second process on the file, another instance on PostgreSQL)
    shows in the next reads of a store that read everything before."""
    deployment = uuid4()
    with open_store(state_url) as reader, open_store(state_url) as writer:
        reader.mark_seen([(deployment, "llama")], at(0))
        _read_everything(reader)

        writer.set_applied(deployment, AppliedState(kind="stopped", applied_at=at(1)))
        writer.record_health([(deployment, "Degraded", at(1))])
        writer.put_rule_memory([(deployment, "p", "r", {"fired": 1})])
        writer.set_backoff(deployment, at(30), 1, "quota")
        writer.mark_seen([(deployment, "llama-renamed")], at(1))

        assert "stopped" == reader.all_applied()[deployment].kind
        assert {deployment: HealthTrack("Degraded", at(1), at(1))} == reader.health_tracks()
        assert {deployment: {("p", "r"): {"fired": 1}}} == reader.all_rule_memory()
        assert {deployment: Backoff(deployment, at(30), 1, "quota")} == reader.backoffs()
        assert {deployment: at(0)} == reader.mark_seen([(deployment, "llama-renamed")], at(2))
        assert "llama-renamed" == reader.seen_deployments()[deployment].name

        writer.forget(deployment)
        assert {} == reader.all_applied()
        assert {} == reader.health_tracks()
        assert {} == reader.backoffs()


def test_a_first_sighting_stored_by_another_process_wins(state_url: str) -> None:
    """A deployment another process stored first keeps that process's first sighting, even after this
    store has read the whole table of sightings."""
    deployment = uuid4()
    with open_store(state_url) as late, open_store(state_url) as early:
        late.mark_seen([(uuid4(), "other")], at(0))
        early.mark_seen([(deployment, "llama")], at(1))
        assert {deployment: at(1)} == late.mark_seen([(deployment, "llama")], at(2))
