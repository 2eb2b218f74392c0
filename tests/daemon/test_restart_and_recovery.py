"""A daemon restarted mid-day repeats no applied action, catches up a missed transition, settles pending actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest
import structlog

from scaler.store import ActionIntent, StoreUnavailable
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, RERANKER, TMP_QWEN, WHISPER, Harness, at_utc
from tests.daemon.policies import document

OFFICE_AND_NIGHT = document(policies.OFFICE, policies.NIGHT, policies.RESTART)


def pending(harness: Harness, deployment_id: str, name: str, action: str, **parameters: object) -> int:
    """Record an action as begun but never finished, as a kill -9 right after begin_action leaves it."""
    return harness.store.begin_action(
        ActionIntent(
            deployment_id=UUID(deployment_id),
            deployment_name=name,
            action=action,
            started_at=harness.now(),
            parameters=parameters,
            reason="before the crash",
            policy="office" if name.startswith("llama") else "night",
        )
    )


async def test_a_restart_mid_day_repeats_no_applied_action(make_harness: Callable[..., Harness]) -> None:
    """Restarted at noon, the new daemon's first cycle sends nothing: everything it applied is remembered."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:00"))
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "12:00"))
    before = harness.calls(clear=True)
    harness.restart()
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "17:00"))
    assert 5 == len(before)  # 05:00 two stops, 06:00 a start, 08:00 update and start
    assert [] == harness.calls()


async def test_a_transition_missed_while_down_is_caught_up_at_start(make_harness: Callable[..., Harness]) -> None:
    """Down from 18:00 to 19:30 over the 19:00 closing: the first cycle after the restart stops llama, once."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "12:00"))
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "18:00"))
    harness.calls(clear=True)
    harness.at(at_utc(MONDAY, "19:30"))
    harness.restart()
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "21:00"))
    assert ["Mon 19:30:00 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]


async def test_a_stop_sent_before_the_crash_is_confirmed_not_repeated(make_harness: Callable[..., Harness]) -> None:
    """Pending stop, and the platform shows the deployment SCALED_DOWN: success, and no second stop."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:00"))
    action_id = pending(harness, LLAMA_8B, "llama-3-8b-chat", "stop", source="default", target="stopped")
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "SCALED_DOWN"})
    await harness.cycle()
    record = harness.store.get_action(action_id)
    applied = harness.store.get_applied(UUID(LLAMA_8B))
    assert record is not None and applied is not None
    assert ("success", "stopped", action_id) == (record.result, applied.kind, applied.action_id)
    assert [] == [call for call in harness.calls() if call.deployment == "llama-3-8b-chat"]
    assert [] == harness.store.pending_actions()


async def test_a_stop_that_never_left_is_settled_as_error_and_sent_again(make_harness: Callable[..., Harness]) -> None:
    """Pending stop, and the deployment still runs: the record is settled as error and the cycle stops it."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:00"))
    action_id = pending(harness, LLAMA_8B, "llama-3-8b-chat", "stop", source="default", target="stopped")
    await harness.cycle()
    record = harness.store.get_action(action_id)
    assert record is not None
    assert ("error", "interrupted") == (record.result, record.error_reason)
    assert ["Mon 05:00:00 llama-3-8b-chat stop -> 200"] == [
        str(call) for call in harness.calls() if call.deployment == "llama-3-8b-chat"
    ]


async def test_an_interrupted_restart_whose_stop_went_out_is_completed(make_harness: Callable[..., Harness]) -> None:
    """Pending restart, and the deployment is SCALED_DOWN: its start is sent, and the restart settled."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:00"))
    action_id = pending(harness, RERANKER, "reranker-ms-marco", "restart", source="health:unhealthy-restart")
    await harness.control("PUT", f"deployments/{RERANKER}/status", {"status": "SCALED_DOWN"})
    await harness.cycle()
    record = harness.store.get_action(action_id)
    assert record is not None
    assert "success" == record.result
    assert ["Mon 05:00:00 reranker-ms-marco start -> 200"] == [
        str(call) for call in harness.calls() if call.deployment == "reranker-ms-marco"
    ]


async def test_an_interrupted_update_is_sent_again_only_if_still_desired(make_harness: Callable[..., Harness]) -> None:
    """Pending update-replicas (outcome unknown) at 08:00: settled as error; the bounds still desired are sent."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "08:00"))
    action_id = pending(
        harness, LLAMA_8B, "llama-3-8b-chat", "update_replicas", min_replicas=1, max_replicas=3, source="window:office"
    )
    await harness.cycle()
    record = harness.store.get_action(action_id)
    assert record is not None and "error" == record.result
    assert ["update_replicas 1..3"] == [call.action for call in harness.calls() if call.deployment == "llama-3-8b-chat"]


async def test_an_interrupted_update_is_followed_by_the_desired_bounds_even_if_they_were_applied_before(
    make_harness: Callable[..., Harness],
) -> None:
    """1..3 applied at 08:00; a crash leaves an update to 2..5 pending (it may have landed): the applied state
    is forgotten with it, and the next cycle sends 1..3 again although 1..3 is what was applied before."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "08:00"))
    await harness.cycle()
    before = harness.store.get_applied(UUID(LLAMA_8B))
    assert before is not None and (1, 3) == (before.min_replicas, before.max_replicas)
    harness.advance(minutes=30)
    action_id = pending(
        harness, LLAMA_8B, "llama-3-8b-chat", "update_replicas", min_replicas=2, max_replicas=5, source="window:office"
    )
    harness.calls(clear=True)
    harness.restart()
    await harness.cycle()
    record = harness.store.get_action(action_id)
    assert record is not None and ("error", "interrupted") == (record.result, record.error_reason)
    assert ["Mon 08:30:00 llama-3-8b-chat update_replicas 1..3 -> 200"] == [str(call) for call in harness.calls()]
    after = harness.store.get_applied(UUID(LLAMA_8B))
    assert after is not None and (1, 3) == (after.min_replicas, after.max_replicas)


async def test_actions_are_not_repeated_across_many_restarts(make_harness: Callable[..., Harness]) -> None:
    """A daemon restarted every hour over a day sends exactly the schedule's calls."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    end = MONDAY + timedelta(days=1, hours=3)
    while harness.now() < end:
        await harness.run_until(min(harness.now() + timedelta(hours=1), end), interval=timedelta(minutes=20))
        harness.restart()
        await harness.cycle()
    assert [
        "Mon 03:00:00 llama-3-8b-chat stop",
        "Mon 03:00:00 whisper-v3 stop",
        "Mon 06:00:00 whisper-v3 start",
        "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3",
        "Mon 08:00:00 llama-3-8b-chat start",
        "Mon 19:00:00 llama-3-8b-chat stop",
        "Mon 22:00:00 whisper-v3 stop",
    ] == [f"{call.at:%a %H:%M:%S} {call.deployment} {call.action}" for call in harness.calls()]
    assert WHISPER in {str(record.deployment_id) for record in harness.audit()}


async def test_an_outcome_that_cannot_be_recorded_is_not_reported_as_applied(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop goes out but its outcome cannot be written: not logged, counted or applied; readiness says so;
    the next cycle's recovery confirms it from the platform, and no second stop is sent."""
    harness = make_harness(document(policies.LLAMA_STOPPED), start=at_utc(MONDAY, "05:00"))
    finish = harness.store.finish_actions

    def unavailable(outcomes: object) -> None:
        raise StoreUnavailable("disk full", reason="disk_full", location="state.db")

    monkeypatch.setattr(harness.store, "finish_actions", unavailable)
    with structlog.testing.capture_logs() as logs:
        await harness.cycle()
    counted = harness.sample("scaler_actions_total", action="stop", result="success", policy="llama")
    ready, checks = harness.daemon.readiness()
    monkeypatch.setattr(harness.store, "finish_actions", finish)
    harness.advance(minutes=1)
    await harness.cycle()
    (record,) = harness.audit()
    assert ["Mon 05:00:00 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]
    assert [] == [line for line in logs if line["event"] == "action"]
    assert (0.0, False, False) == (counted, ready, checks["store"]["ok"])
    assert ("success", "interrupted; confirmed by the platform (status SCALED_DOWN)") == (
        record.result,
        record.platform_message,
    )
    assert harness.daemon.readiness()[0]


async def test_a_deletion_blocked_by_the_operator_does_not_fail_a_cycle(make_harness: Callable[..., Harness]) -> None:
    """--once semantics: an expiry blocked by SCALER_ALLOW_DELETE=false leaves the cycle ok."""
    harness = make_harness(document(policies.EXPIRE), start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    harness.at(at_utc(MONDAY, "11:00"))
    summary = await harness.cycle()
    assert [("delete", "blocked")] == [(report.action, report.result) for report in summary.reports]
    assert summary.ok


async def test_an_instance_that_may_not_act_sends_nothing_but_keeps_watching(
    make_harness: Callable[..., Harness],
) -> None:
    """may_act() false (a standby): no call, no audit record, no recovery; /status and gauges still follow."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:00"))
    standby = harness.sibling(may_act=lambda: False)
    standby.load_policies()
    action_id = pending(harness, LLAMA_8B, "llama-3-8b-chat", "stop", source="default", target="stopped")
    await standby.inventory_cycle()
    document = await standby.status_document()
    llama = next(item for item in document["deployments"] if item["deployment_id"] == LLAMA_8B)
    assert [] == harness.calls()
    assert [action_id] == [record.id for record in harness.store.pending_actions()]
    assert ("stopped", 0.0) == (llama["desired"]["state"], harness.sample("scaler_leader"))


async def test_a_pending_deletion_of_a_deployment_the_platform_no_longer_has_is_confirmed(
    make_harness: Callable[..., Harness],
) -> None:
    """Pending delete, and the deployment is neither listed nor known to the platform (404): success, nothing sent."""
    harness = make_harness(document(policies.EXPIRE), start=at_utc(MONDAY, "12:00"), allow_delete=True)
    action_id = pending(harness, TMP_QWEN, "tmp-eval-qwen-32b", "delete", source="expire")
    await harness.control("PUT", f"deployments/{TMP_QWEN}/status", {"status": "DELETED"})
    harness.advance(minutes=11)  # a deleted deployment leaves the list 10 minutes later
    await harness.cycle()
    record = harness.store.get_action(action_id)
    assert record is not None
    assert ("success", "interrupted; confirmed: the platform no longer has the deployment") == (
        record.result,
        record.platform_message,
    )
    assert [] == harness.calls()


async def test_a_pending_deletion_is_not_confirmed_by_absence_from_the_list_alone(
    make_harness: Callable[..., Harness],
) -> None:
    """Pending delete, the list comes back without the deployment but the platform still has it: error, and the
    next cycle deletes it once."""
    harness = make_harness(document(policies.EXPIRE), start=at_utc(MONDAY, "10:00"), allow_delete=True)
    await harness.cycle()
    harness.at(at_utc(MONDAY, "11:00"))
    action_id = pending(harness, TMP_QWEN, "tmp-eval-qwen-32b", "delete", source="expire")
    harness.restart()
    damaged = {"kind": "missing_fields", "endpoint": "list_deployments", "count": 1}
    await harness.control("POST", "faults/malformed", damaged)
    await harness.cycle()
    record = harness.store.get_action(action_id)
    harness.advance(minutes=1)
    await harness.cycle()
    assert record is not None
    assert ("error", "interrupted; not listed, but it still exists; decided again") == (
        record.result,
        record.platform_message,
    )
    assert ["Mon 11:01:00 tmp-eval-qwen-32b delete -> 200"] == [str(call) for call in harness.calls()]
