"""No decision at an instant older than one already acted on: jobs that waited decide at a fresh instant.

Each test interleaves the daemon's jobs exactly as a slow platform does (answers held
back by :class:`~tests.daemon.stalls.Stalls`), on the harness's manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx

from tests.daemon.harness import EMBEDDINGS, LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document
from tests.daemon.stalls import Stalls, settle

FOUR = ["llama-3-8b-chat", "whisper-v3", "mistral-7b-support", "sdxl-image-gen"]

#: Four deployments with bounds 1..2, stopped from 05:41 to 05:51 UTC.
STOP_WINDOW = document(
    f"""
  - name: pause
    match: {{names: [{", ".join(FOUR)}]}}
    default: {{min_replicas: 1, max_replicas: 2}}
    windows:
      - name: pause
        between: "05:41-05:51"
        state: stopped
"""
)

LIST, STARTSTOP, HEALTH = "/deployments/list/", "/startstop/", "/fetch-status/"


def stalled_harness(make_harness: Callable[..., Harness], policies: str, **options: object) -> tuple[Harness, Stalls]:
    stalls: list[Stalls] = []

    def network(inner):  # type: ignore[no-untyped-def]
        stalls.append(Stalls(inner))
        return stalls[0]

    harness = make_harness(policies, network=network, **options)
    return harness, stalls[0]


async def test_a_reconcile_that_waited_for_a_boundary_decides_after_it_and_reverts_nothing(
    make_harness: Callable[..., Harness],
) -> None:
    """The list returns before the boundary, the lock comes after the boundary's slow stops: one stop each, no start."""
    harness, stalls = stalled_harness(make_harness, STOP_WINDOW, start=at_utc(MONDAY, "05:30"))
    await harness.cycle()
    harness.calls(clear=True)

    harness.at(at_utc(MONDAY, "05:40:55") + timedelta(milliseconds=980))
    stalls.hold(LIST)
    reconcile = asyncio.create_task(harness.cycle())
    await stalls.wait_held(LIST)

    harness.at(at_utc(MONDAY, "05:41:00") + timedelta(milliseconds=10))
    stalls.hold(STARTSTOP)
    boundary = asyncio.create_task(harness.daemon.wake_up())
    await stalls.wait_held(STARTSTOP, 4)
    stalls.release(LIST)  # the list taken at 05:40:55.98 is read now; the reconcile then waits for the lock
    await settle()
    assert not reconcile.done()

    harness.at(at_utc(MONDAY, "05:41:14") + timedelta(milliseconds=100))
    stalls.release(STARTSTOP)
    await boundary
    await reconcile
    harness.at(at_utc(MONDAY, "05:41:23") + timedelta(milliseconds=810))
    await harness.cycle()

    assert sorted(f"Mon 05:41:00 {name} stop -> 200" for name in FOUR) == sorted(
        str(call) for call in harness.calls()
    )


async def test_a_list_taken_before_a_boundary_and_read_after_it_does_not_undo_its_stops(
    make_harness: Callable[..., Harness],
) -> None:
    """Under ``enforce: true`` a list older than the boundary's stops shows them running: that is not drift."""
    harness, stalls = stalled_harness(
        make_harness, STOP_WINDOW.replace("    windows:", "    enforce: true\n    windows:"), start=at_utc(MONDAY, "05:30")
    )
    await harness.cycle()
    harness.calls(clear=True)

    harness.at(at_utc(MONDAY, "05:40:59"))
    stalls.hold(LIST)
    reconcile = asyncio.create_task(harness.cycle())
    await stalls.wait_held(LIST)
    harness.at(at_utc(MONDAY, "05:41:00"))
    await harness.daemon.wake_up()  # the stops are answered at once
    harness.at(at_utc(MONDAY, "05:41:03"))
    stalls.release(LIST)  # the list answered now was taken at 05:40:59, before the stops
    await reconcile
    await harness.cycle()

    assert sorted(f"Mon 05:41:00 {name} stop -> 200" for name in FOUR) == sorted(
        str(call) for call in harness.calls()
    )


#: embeddings-bge-large: bounds 2..4, shrunk to 1..1 after a minute Degraded, stopped from 09:00 to 10:00 UTC.
DEGRADED_THEN_STOP = document(
    """
  - name: shrink
    match: {names: [embeddings-bge-large]}
    default: {min_replicas: 2, max_replicas: 4}
    windows:
      - name: pause
        between: "09:00-10:00"
        state: stopped
    health:
      - name: degraded-shrink
        status: Degraded
        for: 1m
        state: {min_replicas: 1, max_replicas: 1}
"""
)


async def test_a_health_poll_that_started_before_a_boundary_reconciles_after_it_at_a_fresh_instant(
    make_harness: Callable[..., Harness],
) -> None:
    """The Degraded answer of a poll started at T-1.26 s arrives after the stop at T: no update, no start, no re-stop."""
    harness, stalls = stalled_harness(
        make_harness,
        DEGRADED_THEN_STOP,
        start=at_utc(MONDAY, "08:50"),
        reconcile_interval_seconds=600,
        health_interval_seconds=10,
        health_idle_interval_seconds=0,
    )
    await harness.cycle()
    harness.calls(clear=True)
    await harness.control("PUT", f"deployments/{EMBEDDINGS}/health", {"data": "Degraded"})

    boundary = at_utc(MONDAY, "09:00")
    harness.at(boundary - timedelta(seconds=1.26))
    stalls.hold(HEALTH)
    poll = asyncio.create_task(harness.poll_health())
    await stalls.wait_held(HEALTH)
    harness.at(boundary + timedelta(milliseconds=10))
    await harness.daemon.wake_up()
    harness.at(boundary + timedelta(seconds=5.12))
    stalls.release(HEALTH)
    await poll
    await harness.run_until(boundary + timedelta(minutes=5), interval=timedelta(minutes=10))

    assert ["Mon 09:00:00 embeddings-bge-large stop -> 200"] == [str(call) for call in harness.calls()]
    wakeup = harness.daemon.reconciler.next_wakeup(harness.now())
    assert wakeup is not None and wakeup > harness.now()


#: llama-3-8b-chat has bounds 1..3, and a health rule (so its health is polled every interval).
WATCHED_LLAMA = document(
    """
  - name: llama
    match: {names: [llama-3-8b-chat]}
    default: {min_replicas: 1, max_replicas: 3}
    health:
      - name: degraded-shrink
        status: Degraded
        for: 10m
        state: {min_replicas: 1, max_replicas: 1}
"""
)


async def test_a_suspension_ending_while_a_poll_is_in_flight_is_applied_once(
    make_harness: Callable[..., Harness],
) -> None:
    """A poll spanning the end E of a suspension reconciles after E: the desired state is applied once, not twice."""
    harness, stalls = stalled_harness(
        make_harness, WATCHED_LLAMA, start=at_utc(MONDAY, "08:00"), health_idle_interval_seconds=0
    )
    end = at_utc(MONDAY, "09:00")
    harness.store.suspend(LLAMA_8B, "llama-3-8b-chat", until=end, reason="test", created_at=harness.now(), created_by="tests")
    await harness.cycle()
    assert [] == harness.calls()

    await harness.control("PUT", f"deployments/{LLAMA_8B}/health", {"data": "Progressing"})
    harness.at(end - timedelta(seconds=2))
    stalls.hold(HEALTH)
    poll = asyncio.create_task(harness.poll_health())  # its answer (a new health value) arrives after E
    await stalls.wait_held(HEALTH)
    harness.at(end)
    await harness.daemon.wake_up()  # the suspension ends: its desired state is applied
    harness.at(end + timedelta(seconds=3))
    stalls.release(HEALTH)
    await poll
    await harness.daemon.wake_up()  # a wake-up the poll's cycle planned fires at once when it is past
    await harness.run_until(end + timedelta(minutes=5), interval=timedelta(minutes=1))

    assert ["Mon 09:00:00 llama-3-8b-chat update_replicas 1..3 -> 200"] == [str(call) for call in harness.calls()]


async def test_a_policy_reload_that_read_its_files_before_a_boundary_decides_after_it(
    make_harness: Callable[..., Harness],
) -> None:
    """The reload job's instant is read when it decides, not before the files were loaded."""
    harness, _ = stalled_harness(make_harness, STOP_WINDOW, start=at_utc(MONDAY, "05:30"))
    await harness.cycle()
    harness.calls(clear=True)
    boundary = at_utc(MONDAY, "05:41")
    harness.at(boundary - timedelta(seconds=1))
    (harness.policy_path / "policies.yaml").write_text(STOP_WINDOW.replace("max_replicas: 2", "max_replicas: 3"))
    loaded = asyncio.Event()
    load = harness.daemon.policies._loader

    def slow_load(paths):  # type: ignore[no-untyped-def]
        policy_set = load(paths)
        harness.at(boundary + timedelta(seconds=2))  # the files took three seconds to read
        loaded.set()
        return policy_set

    harness.daemon.policies._loader = slow_load
    await harness.daemon.check_policies()
    assert loaded.is_set()
    await harness.daemon.wake_up()
    await harness.cycle()

    assert sorted(f"Mon 05:41:02 {name} stop -> 200" for name in FOUR) == sorted(
        str(call) for call in harness.calls()
    )


async def test_a_cycle_whose_instant_is_older_than_the_last_decision_stands_down(
    make_harness: Callable[..., Harness],
) -> None:
    """Should the clock ever return an instant before the last decision, the cycle sends nothing and says why."""
    harness, _ = stalled_harness(make_harness, STOP_WINDOW, start=at_utc(MONDAY, "05:45"))
    harness.daemon.reconciler.instants.last = at_utc(MONDAY, "06:00")
    summary = await harness.cycle()
    assert ("stale instant", []) == (summary.error, harness.calls())


#: llama-3-8b-chat at 1..2, stopped until 05:40 and again from 05:41 to 05:51 UTC.
STOPPED_AROUND_A_MINUTE = document(
    """
  - name: gap
    match: {names: [llama-3-8b-chat]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: before, between: "05:00-05:40", state: stopped}
      - {name: after, between: "05:41-05:51", state: stopped}
"""
)


async def test_a_list_older_than_a_start_whose_answer_was_lost_is_not_taken_for_the_truth(
    make_harness: Callable[..., Harness],
) -> None:
    """A start whose answer is lost may have started the deployment: the list taken before it, showing it
    stopped, no longer says what it is. The stop due a minute later goes out at the next list, not never."""
    harness, stalls = stalled_harness(
        make_harness, STOPPED_AROUND_A_MINUTE, start=at_utc(MONDAY, "05:30"), api_retry_attempts=1
    )
    await harness.cycle()
    harness.at(at_utc(MONDAY, "05:40:00"))
    stalls.hold(STARTSTOP)
    start = asyncio.create_task(harness.daemon.wake_up())
    await stalls.wait_held(STARTSTOP)  # the platform started it; the answer is lost
    stalls.release(STARTSTOP, lost=httpx.ReadTimeout("the answer was lost"))
    await start
    harness.calls(clear=True)

    harness.at(at_utc(MONDAY, "05:41:00"))
    await harness.daemon.wake_up()  # the boundary: the last list (05:30) predates the start
    harness.at(at_utc(MONDAY, "05:41:10"))
    await harness.cycle()

    assert ["Mon 05:41:10 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]
    assert "DEPLOYED" != harness.sim.deployments[LLAMA_8B].status
