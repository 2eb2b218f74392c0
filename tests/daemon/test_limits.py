"""The budget of actions per cycle: the most urgent first, the rest deferred and reported once."""

from __future__ import annotations

from collections.abc import Callable

from tests.daemon.harness import MONDAY, Harness, at_utc

EVERYTHING_STOPPED = """
version: 1
policies:
  - name: all-stopped
    match: {names: ["*"]}
    default: stopped
  - name: batch-running
    match: {names: [batch-transcribe]}
    priority: 1
    default: running
"""


async def test_at_most_max_actions_per_cycle_money_saving_first_waiting_longest_first(
    make_harness: Callable[..., Harness],
) -> None:
    """With a limit of 4, ten stops and one start take three cycles: stops first by name, the start last.

    (Within a cycle the calls go out concurrently, so each cycle is compared as a set.)
    """
    harness = make_harness(EVERYTHING_STOPPED, start=at_utc(MONDAY, "10:00"), max_actions_per_cycle=4)
    cycles = []
    for _ in range(4):
        await harness.cycle()
        cycles.append([f"{call.deployment} {call.action}" for call in harness.calls(clear=True)])
        harness.advance(minutes=1)
    assert [
        [
            "code-assist-deepseek stop",
            "embeddings-bge-large stop",
            "llama-3-70b-instruct stop",
            "llama-3-8b-chat stop",
        ],
        [
            "llama-3-8b-chat-canary stop",
            "mistral-7b-support stop",
            "reranker-ms-marco stop",
            "sdxl-image-gen stop",
        ],
        ["batch-transcribe start", "tmp-eval-qwen-32b stop", "whisper-v3 stop"],
        [],
    ] == [sorted(cycle) for cycle in cycles]


async def test_a_deferred_action_is_recorded_and_counted_once_while_it_waits(
    make_harness: Callable[..., Harness],
) -> None:
    """Seven stops deferred in the first cycle are recorded once each, though some wait two cycles."""
    harness = make_harness(EVERYTHING_STOPPED, start=at_utc(MONDAY, "10:00"), max_actions_per_cycle=4)
    for _ in range(3):
        await harness.cycle()
        harness.advance(minutes=1)
    deferred = harness.audit(results=["deferred"])
    assert 7 == len(deferred)
    assert 7 == len({record.deployment_id for record in deferred})
    assert 6.0 == harness.sample("scaler_actions_total", action="stop", result="deferred", policy="all-stopped")
    assert 10.0 == harness.sample("scaler_actions_total", action="stop", result="success", policy="all-stopped")


async def test_a_two_action_plan_runs_alone_under_a_limit_of_one(make_harness: Callable[..., Harness]) -> None:
    """update-replicas then start is never split: under a limit of 1 it runs as the only plan of its cycle."""
    harness = make_harness(
        "version: 1\npolicies:\n  - name: up\n    match: {names: [batch-transcribe]}\n"
        "    default: {min_replicas: 1, max_replicas: 2}\n",
        start=at_utc(MONDAY, "10:00"),
        max_actions_per_cycle=1,
    )
    await harness.cycle()
    assert ["update_replicas 1..2", "start"] == [call.action for call in harness.calls()]
