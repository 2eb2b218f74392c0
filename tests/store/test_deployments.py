"""First sightings, names, lookups by name or id, and forgetting a deployment the platform lost."""

from __future__ import annotations

from uuid import uuid4

from scaler.store import AppliedState, SeenDeployment, Store
from tests.store.conftest import at, intent


def test_first_sighting_is_the_instant_given(store: Store) -> None:
    """A deployment never seen before is first seen ``now``."""
    deployment = uuid4()
    assert {deployment: at(0)} == store.mark_seen([(deployment, "llama-prod")], at(0))


def test_first_sighting_is_kept_on_later_sightings(store: Store) -> None:
    """Seeing a deployment again returns its original first sighting."""
    old, new = uuid4(), uuid4()
    store.mark_seen([(old, "old")], at(0))
    assert {old: at(0), new: at(30)} == store.mark_seen([(old, "old"), (new, "new")], at(30))


def test_renamed_deployment_keeps_its_first_sighting_and_takes_the_new_name(store: Store) -> None:
    """Names change; the id is the key."""
    deployment = uuid4()
    store.mark_seen([(deployment, "llama-v1")], at(0))
    store.mark_seen([(deployment, "llama-v2")], at(5))
    assert SeenDeployment(deployment, "llama-v2", at(0)) == store.seen_deployments()[deployment]


def test_empty_sighting_changes_nothing(store: Store) -> None:
    """An empty inventory returns an empty mapping."""
    assert {} == store.mark_seen([], at(0))


def test_large_inventory_is_marked_in_one_call(store: Store) -> None:
    """10,000 deployments (the benchmark's size) are seen in one batch, new ones and known ones alike."""
    known = [(uuid4(), f"known-{i}") for i in range(5000)]
    store.mark_seen(known, at(0))
    fresh = [(uuid4(), f"fresh-{i}") for i in range(5000)]
    first_seen = store.mark_seen(known + fresh, at(1))
    assert (10000, {at(0)}, {at(1)}) == (
        len(first_seen),
        {first_seen[key] for key, _ in known},
        {first_seen[key] for key, _ in fresh},
    )


def test_find_by_name_returns_every_deployment_of_that_name(store: Store) -> None:
    """Names need not be unique: the CLI is told about each match."""
    first, second, other = uuid4(), uuid4(), uuid4()
    store.mark_seen([(first, "llama"), (second, "llama"), (other, "mistral")], at(0))
    assert {first, second} == {seen.deployment_id for seen in store.find_deployments("llama")}


def test_find_by_id_accepts_the_id_as_text(store: Store) -> None:
    """An id, in any case, finds its deployment."""
    deployment = uuid4()
    store.mark_seen([(deployment, "llama")], at(0))
    assert [SeenDeployment(deployment, "llama", at(0))] == store.find_deployments(str(deployment).upper())


def test_find_unknown_returns_nothing(store: Store) -> None:
    """No match is an empty list."""
    assert [] == store.find_deployments("nobody-knows")


def test_forget_drops_applied_state_health_backoff_and_rule_memory(store: Store) -> None:
    """After a 404 the deployment's live state is gone."""
    deployment = uuid4()
    store.set_applied(deployment, AppliedState(kind="running", applied_at=at(0)))
    store.record_health([(deployment, "Degraded", at(0))])
    store.set_backoff(deployment, at(5), 1, "quota")
    store.put_rule_memory([(deployment, "p", "r", {"since": "x"})])
    store.forget(deployment)
    assert (None, {}, {}, {}) == (
        store.get_applied(deployment),
        store.health_tracks(),
        store.backoffs(),
        store.rule_memory(deployment),
    )


def test_forget_keeps_the_audit_log_first_sighting_and_suspension(store: Store) -> None:
    """History stays: what was done, when it was first seen (expiry clocks), and a person's suspension."""
    deployment = uuid4()
    store.mark_seen([(deployment, "llama")], at(0))
    action_id = store.begin_action(intent(deployment))
    store.finish_action(action_id, result="success", finished_at=at(1), applied=AppliedState("stopped", at(1)))
    store.suspend(deployment, "llama", at(120), "incident", at(0), "alice")
    store.forget(deployment)
    assert ([action_id], True, True) == (
        [a.id for a in store.recent_actions(deployment_id=deployment)],
        deployment in store.seen_deployments(),
        deployment in store.all_suspensions(),
    )


def test_forget_leaves_other_deployments_alone(store: Store) -> None:
    """Only the named deployment is forgotten."""
    gone, kept = uuid4(), uuid4()
    for deployment in (gone, kept):
        store.set_applied(deployment, AppliedState(kind="running", applied_at=at(0)))
    store.forget(gone)
    assert {kept} == set(store.all_applied())


def test_the_first_inventory_is_recorded_once_even_when_empty(store: Store) -> None:
    """A fresh store has had no inventory; its first one (here empty) is recorded, later ones change nothing."""
    before = store.first_inventory_at()
    store.mark_seen([], at(0))
    store.mark_seen([(uuid4(), "late")], at(30))
    assert (None, at(0)) == (before, store.first_inventory_at())
