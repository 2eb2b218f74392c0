"""Health-rule memory (opaque JSON per deployment, policy and rule) and the process-wide key/value table."""

from __future__ import annotations

from uuid import uuid4

import pytest

from scaler.store import Store
from tests.store.conftest import at


def test_rule_memory_round_trips_json(store: Store) -> None:
    """What a rule stores is what it reads back, nested values included."""
    deployment = uuid4()
    memory = {"scaled_down_at": "2025-03-03T08:00:00+00:00", "restarts": [1, 2], "applied": True, "ratio": 0.5}
    store.put_rule_memory([(deployment, "gpu-pool", "degraded", memory)])
    assert {("gpu-pool", "degraded"): memory} == store.rule_memory(deployment)


def test_rule_memory_is_replaced_whole(store: Store) -> None:
    """A second put replaces the first one's value."""
    deployment = uuid4()
    store.put_rule_memory([(deployment, "p", "r", {"a": 1, "b": 2})])
    store.put_rule_memory([(deployment, "p", "r", {"c": 3})])
    assert {("p", "r"): {"c": 3}} == store.rule_memory(deployment)


def test_none_deletes_a_rule_memory(store: Store) -> None:
    """Putting None forgets that rule's memory, and only that one."""
    deployment = uuid4()
    store.put_rule_memory([(deployment, "p", "r1", {"a": 1}), (deployment, "p", "r2", {"b": 2})])
    store.put_rule_memory([(deployment, "p", "r1", None)])
    assert {("p", "r2"): {"b": 2}} == store.rule_memory(deployment)


def test_all_rule_memory_groups_by_deployment(store: Store) -> None:
    """all_rule_memory maps each deployment to its (policy, rule) memories."""
    first, second = uuid4(), uuid4()
    store.put_rule_memory([(first, "p", "r", {"n": 1}), (second, "p", "r", {"n": 2}), (second, "q", "s", [])])
    assert {first: {("p", "r"): {"n": 1}}, second: {("p", "r"): {"n": 2}, ("q", "s"): []}} == store.all_rule_memory()


def test_rule_memory_that_is_not_json_is_refused(store: Store) -> None:
    """A datetime (or any non-JSON value) raises ValueError naming the rule, and nothing is written."""
    deployment = uuid4()
    with pytest.raises(ValueError, match="memory of rule p/r must be JSON-serializable"):
        store.put_rule_memory([(deployment, "p", "ok", {"a": 1}), (deployment, "p", "r", {"since": at(0)})])
    assert {} == store.rule_memory(deployment)


def test_meta_round_trips_json_values(store: Store) -> None:
    """A process-wide fact is stored and read back."""
    store.set_meta("wallet_blocked_since", "2025-03-03T08:00:00+00:00")
    store.set_meta("counters", {"probes": 3})
    assert ("2025-03-03T08:00:00+00:00", {"probes": 3}) == (
        store.get_meta("wallet_blocked_since"),
        store.get_meta("counters"),
    )


def test_meta_missing_key_gives_the_default(store: Store) -> None:
    """An unknown key returns the default."""
    assert "none" == store.get_meta("unknown", "none")


def test_meta_none_deletes_the_key(store: Store) -> None:
    """Setting None removes the fact."""
    store.set_meta("k", 1)
    store.set_meta("k", None)
    assert store.get_meta("k") is None
