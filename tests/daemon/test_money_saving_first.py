"""Money-saving calls never wait behind blocked spend: not for the wallet, not for a quota backoff, not for the budget.

The wallet is blocked in the daemon by starts the platform refused with 402
(batch-transcribe, stopped in the seed, should run), the last one at 19:59:40; the
simulator's wallet is then unblocked, so every call that goes out is answered, while
the daemon holds its spend gate until its next probe ten minutes later.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.daemon.harness import MONDAY, Harness, at_utc
from tests.daemon.policies import document

#: batch-transcribe should run; whisper-v3 has bounds 1..2, lowered to 0..1 from 20:00 to 06:00 UTC.
BATCH_AND_NIGHT_SCALE_DOWN = document(
    """
  - name: batch
    match: {names: [batch-transcribe]}
    default: running
""",
    """
  - name: night-scale-down
    match: {names: [whisper-v3]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - name: night
        between: "20:00-06:00"
        state: {min_replicas: 0, max_replicas: 1}
""",
)


async def block_the_wallet(harness: Harness) -> None:
    """From 19:00 the platform refuses batch-transcribe's start with 402; the last probe, at 19:59:40, is
    refused too, so the daemon holds spend until 20:09:40. Then the platform's wallet is unblocked."""
    await harness.control("PUT", "wallet", {"blocked": True})
    await harness.cycle()
    harness.at(at_utc(MONDAY, "19:59:40"))
    await harness.cycle()
    await harness.control("PUT", "wallet", {"blocked": False})
    assert 1.0 == harness.sample("scaler_wallet_blocked")


async def test_a_scale_down_whose_first_attempt_failed_is_not_held_by_a_blocked_wallet(
    make_harness: Callable[..., Harness],
) -> None:
    """whisper-v3's 0..1 at 20:00 fails with 500 (outcome unknown, applied state forgotten); decided again at
    the next cycle, it goes out although the wallet is blocked: lowering bounds saves money."""
    harness = make_harness(BATCH_AND_NIGHT_SCALE_DOWN, start=at_utc(MONDAY, "19:00"))
    await block_the_wallet(harness)
    harness.calls(clear=True)
    harness.at(at_utc(MONDAY, "20:00"))
    await harness.control("POST", "faults/fail-next", {"endpoint": "update_replicas", "status": 500, "count": 2})
    await harness.daemon.wake_up()
    harness.at(at_utc(MONDAY, "20:00:37"))
    await harness.cycle()

    assert [
        "Mon 20:00:00 whisper-v3 update_replicas 0..1 -> 500",
        "Mon 20:00:00 whisper-v3 update_replicas 0..1 -> 500",
        "Mon 20:00:37 whisper-v3 update_replicas 0..1 -> 200",
    ] == [str(call) for call in harness.calls()]
    assert 1.0 == harness.sample("scaler_wallet_blocked")


#: llama-3-8b-chat is kept stopped (enforce) outside office hours; batch-transcribe should run.
BATCH_AND_ENFORCED_STOP = document(
    """
  - name: batch
    match: {names: [batch-transcribe]}
    default: running
""",
    """
  - name: office
    match: {names: [llama-3-8b-chat]}
    enforce: true
    default: stopped
    windows:
      - name: office
        between: "Mon-Fri 08:00-19:00"
        state: {min_replicas: 1, max_replicas: 3}
""",
)


async def test_a_start_held_by_the_wallet_takes_no_slot_of_the_cycle_budget(
    make_harness: Callable[..., Harness],
) -> None:
    """With one action a cycle, the start blocked since 18:00 (waiting longest) does not starve the stop due
    since 19:00 (refused with 402 until the platform's wallet was unblocked): it goes out at the next cycle."""
    harness = make_harness(BATCH_AND_ENFORCED_STOP, start=at_utc(MONDAY, "18:00"), max_actions_per_cycle=1)
    await block_the_wallet(harness)
    harness.calls(clear=True)
    harness.at(at_utc(MONDAY, "20:00:10"))
    await harness.cycle()

    assert ["Mon 20:00:10 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]
    deferred = [record for record in harness.audit(results=["deferred"]) if record.action == "stop"]
    assert [] == deferred
