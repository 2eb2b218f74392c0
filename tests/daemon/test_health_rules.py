"""Health rules end to end: scale down while Degraded, restore, cooldown; restart when Unhealthy, max_per_day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog

from tests.daemon import policies
from tests.daemon.harness import EMBEDDINGS, MONDAY, RERANKER, Harness, at_utc
from tests.daemon.policies import document

SHRINK = document(policies.SHRINK)

RESTART = document(policies.RESTART)

HALF_MINUTE = timedelta(seconds=30)


async def set_health(harness: Harness, deployment_id: str, value: str) -> None:
    """Make the simulator answer ``value`` from now on, and let the daemon observe it at once."""
    await harness.control("PUT", f"deployments/{deployment_id}/health", {"data": value})
    await harness.poll_health()


async def test_degraded_scales_down_after_for_restores_after_recover_for_and_respects_cooldown(
    make_harness: Callable[..., Harness],
) -> None:
    """Degraded 10 min shrinks to 1..1; Healthy 5 min restores 2..4; a new Degraded waits out the 30 min cooldown."""
    harness = make_harness(SHRINK, start=at_utc(MONDAY, "10:00"))
    await harness.control("PUT", f"deployments/{EMBEDDINGS}/health-timeline", [])
    await harness.cycle()
    harness.at(at_utc(MONDAY, "10:01"))
    await set_health(harness, EMBEDDINGS, "Degraded")
    await harness.run_until(at_utc(MONDAY, "10:20"), health_every=HALF_MINUTE)
    await set_health(harness, EMBEDDINGS, "Healthy")
    await harness.run_until(at_utc(MONDAY, "10:30"), health_every=HALF_MINUTE)
    await set_health(harness, EMBEDDINGS, "Degraded")
    await harness.run_until(at_utc(MONDAY, "11:30"), health_every=HALF_MINUTE)
    assert [
        "Mon 10:00:00 embeddings-bge-large update_replicas 2..4 -> 200",
        "Mon 10:11:00 embeddings-bge-large update_replicas 1..1 -> 200",
        "Mon 10:25:00 embeddings-bge-large update_replicas 2..4 -> 200",
        "Mon 10:55:00 embeddings-bge-large update_replicas 1..1 -> 200",
    ] == [str(call) for call in harness.calls()]


async def test_the_shrink_is_recorded_with_its_rule(make_harness: Callable[..., Harness]) -> None:
    """The audit record of the shrink names the policy and the health rule, and the applied state says so."""
    harness = make_harness(SHRINK, start=at_utc(MONDAY, "10:00"))
    await harness.control("PUT", f"deployments/{EMBEDDINGS}/health-timeline", [])
    await harness.cycle()
    await set_health(harness, EMBEDDINGS, "Degraded")
    await harness.run_until(at_utc(MONDAY, "10:15"), health_every=HALF_MINUTE)
    shrink = harness.audit()[-1]
    applied = harness.store.get_applied(shrink.deployment_id)
    assert ("update_replicas", "success", "shrink", "degraded-shrink") == (
        shrink.action,
        shrink.result,
        shrink.policy,
        shrink.rule,
    )
    assert applied is not None
    assert ("bounds", 1, 1, "health:degraded-shrink") == (
        applied.kind,
        applied.min_replicas,
        applied.max_replicas,
        applied.source,
    )


async def test_unhealthy_restarts_once_per_episode_at_most_max_per_day(make_harness: Callable[..., Harness]) -> None:
    """Two Unhealthy episodes restart (stop, then start) after 5 min each; the third waits: max_per_day is 2."""
    harness = make_harness(RESTART, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    await set_health(harness, RERANKER, "Unhealthy")
    await harness.run_until(at_utc(MONDAY, "10:10"), health_every=HALF_MINUTE)
    await set_health(harness, RERANKER, "Unhealthy")
    await harness.run_until(at_utc(MONDAY, "10:20"), health_every=HALF_MINUTE)
    await set_health(harness, RERANKER, "Unhealthy")
    await harness.run_until(at_utc(MONDAY, "12:00"), health_every=HALF_MINUTE)
    assert [
        "Mon 10:05:00 reranker-ms-marco stop -> 200",
        "Mon 10:05:00 reranker-ms-marco start -> 200",
        "Mon 10:15:00 reranker-ms-marco stop -> 200",
        "Mon 10:15:00 reranker-ms-marco start -> 200",
    ] == [str(call) for call in harness.calls()]
    assert [("restart", "success", "unhealthy-restart")] * 2 == [
        (record.action, record.result, record.rule) for record in harness.audit()
    ]


async def test_a_still_unhealthy_deployment_is_not_restarted_again_in_the_same_episode(
    make_harness: Callable[..., Harness],
) -> None:
    """Unhealthy without interruption across a restart: one restart, not one per cooldown."""
    harness = make_harness(RESTART, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    await harness.control(
        "PUT",
        f"deployments/{RERANKER}/health-timeline",
        [{"after_seconds": 0, "data": "Unhealthy"}],
    )
    await harness.run_until(at_utc(MONDAY, "10:05"), health_every=HALF_MINUTE)
    # After the restart the simulator would report Progressing; a stubborn platform keeps Unhealthy.
    await harness.control("PUT", f"deployments/{RERANKER}/health", {"data": "Unhealthy"})
    await harness.run_until(at_utc(MONDAY, "11:00"), health_every=HALF_MINUTE)
    assert ["stop", "start"] == [call.action for call in harness.calls()]


async def test_a_restart_waits_while_the_health_answers_cannot_be_read(make_harness: Callable[..., Harness]) -> None:
    """Unhealthy from 10:00, then every health answer fails: at 10:05 the restart is held (logged once), not sent on
    the 10:00 observation; at the first poll that reads an answer again (10:08:29, still Unhealthy) it is sent."""
    harness = make_harness(RESTART, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    await set_health(harness, RERANKER, "Unhealthy")
    await harness.control("POST", "faults/fail-next", {"endpoint": "get_health", "status": 503, "count": 1000})
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "10:07:59"), health_every=HALF_MINUTE)
    held = harness.calls(clear=True)
    await harness.control("DELETE", "faults")
    await harness.run_until(at_utc(MONDAY, "10:09"), health_every=HALF_MINUTE)
    assert [] == held
    assert ["Mon 10:08:29 reranker-ms-marco stop -> 200", "Mon 10:08:29 reranker-ms-marco start -> 200"] == [
        str(call) for call in harness.calls()
    ]
    assert [("health_action_held", ["restart"], "unhealthy-restart")] == [
        (line["event"], line["actions"], line["rule"]) for line in logs if line["event"] == "health_action_held"
    ]


async def test_an_unrecognized_health_value_is_logged_once(make_harness: Callable[..., Harness]) -> None:
    """"Overheating" is tracked as Unrecognized and logged once, not at every poll."""
    harness = make_harness(RESTART, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    with structlog.testing.capture_logs() as logs:
        await set_health(harness, RERANKER, "Overheating")
        await harness.run_until(at_utc(MONDAY, "10:05"), health_every=HALF_MINUTE)
    assert [("reranker-ms-marco", "Overheating")] == [
        (line["deployment"], line["health"]) for line in logs if line["event"] == "health_unrecognized"
    ]
