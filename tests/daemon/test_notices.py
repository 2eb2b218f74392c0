"""Nothing skipped in silence: a policy matching nothing, a conflict appearing and ending, and a boundary a
suspension skips are each logged once (and the matches are a gauge), not every cycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog

from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document

GHOST = """
  - name: ghost
    match: {names: ["ghost-*"]}
    default: stopped
"""
#: A second policy over llama-3-8b-chat at the same priority as office: a conflict.
TWIN = """
  - name: twin
    match: {names: [llama-3-8b-chat]}
    default: running
"""


def events(logs: list[dict[str, Any]], name: str, *fields: str) -> list[tuple[Any, ...]]:
    """The captured lines of one event, each as the values of ``fields``."""
    return [tuple(line.get(field) for field in fields) for line in logs if line["event"] == name]


async def test_a_policy_matching_nothing_is_logged_once_per_policy_set_and_counted(
    make_harness: Callable[..., Harness],
) -> None:
    """ghost selects none of the 11 deployments: one policy_matches_nothing line over three cycles, another
    after a new policy set is loaded; the gauge counts each policy's matches, ghost's series existing (0)
    from the load on."""
    harness = make_harness(document(policies.OFFICE, GHOST), start=at_utc(MONDAY, "06:00"))
    before_inventory = harness.sample("scaler_policy_matched_deployments", policy="ghost")
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            await harness.cycle()
            harness.advance(minutes=1)
        first_set = events(logs, "policy_matches_nothing", "policy")
        (harness.policy_path / "policies.yaml").write_text(document(GHOST, policies.OFFICE))
        await harness.daemon.check_policies(force=True)
        await harness.cycle()
    assert (0.0, [("ghost",)], [("ghost",), ("ghost",)]) == (
        before_inventory, first_set, events(logs, "policy_matches_nothing", "policy")
    )
    assert (1.0, 0.0) == (
        harness.sample("scaler_policy_matched_deployments", policy="office"),
        harness.sample("scaler_policy_matched_deployments", policy="ghost"),
    )


async def test_a_policy_removed_from_the_set_loses_its_matches_series(make_harness: Callable[..., Harness]) -> None:
    """After a reload without ghost, its scaler_policy_matched_deployments series is gone."""
    harness = make_harness(document(policies.OFFICE, GHOST), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    (harness.policy_path / "policies.yaml").write_text(document(policies.OFFICE))
    await harness.daemon.check_policies(force=True)
    assert (None, 1.0) == (
        harness.sample("scaler_policy_matched_deployments", policy="ghost"),
        harness.sample("scaler_policy_matched_deployments", policy="office"),
    )


async def test_a_conflict_is_logged_once_when_it_appears_and_once_when_it_ends(
    make_harness: Callable[..., Harness],
) -> None:
    """office and twin tie over llama-3-8b-chat for three cycles: one policy_conflict line (started, with both
    policies); twin given a higher priority ends it: one more line (ended, with the same policies)."""
    harness = make_harness(document(policies.OFFICE, TWIN), start=at_utc(MONDAY, "06:00"))
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            await harness.cycle()
            harness.advance(minutes=1)
        (harness.policy_path / "policies.yaml").write_text(
            document(policies.OFFICE, TWIN.replace("    default: running", "    priority: 5\n    default: running"))
        )
        await harness.daemon.check_policies(force=True)
        await harness.cycle()
    assert [
        ("started", "llama-3-8b-chat", ["office", "twin"]),
        ("ended", "llama-3-8b-chat", ["office", "twin"]),
    ] == events(logs, "policy_conflict", "state", "deployment", "policies")


async def test_a_boundary_skipped_by_a_suspension_is_logged_once_with_the_reason(
    make_harness: Callable[..., Harness],
) -> None:
    """llama-3-8b-chat is suspended 06:00-20:00: its 08:00 and 19:00 boundaries are each logged once as
    transition_skipped with the suspension as the reason; nothing is sent until the suspension ends."""
    harness = make_harness(document(policies.OFFICE), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.calls(clear=True)
    harness.store.suspend(UUID(LLAMA_8B), "llama-3-8b-chat", at_utc(MONDAY, "20:00"), "load test", harness.now(), "bob")
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "20:30"), interval=timedelta(minutes=5))
    reason = "suspended until 2026-03-02T20:00:00Z by bob: load test"
    assert [
        ("2026-03-02T08:00:00Z", "min=1 max=3", "window:office", reason),
        ("2026-03-02T19:00:00Z", "stopped", "default", reason),
    ] == events(logs, "transition_skipped", "boundary", "to", "source", "reason")
    assert [] == harness.calls()
