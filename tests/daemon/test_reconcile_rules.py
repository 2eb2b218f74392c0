"""Reconcile rules end to end: expiry, enforce on and off, first sight, suspension, dry run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import structlog

from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, TMP_QWEN, WHISPER, Harness, at_utc
from tests.daemon.policies import document

EXPIRE = document(policies.EXPIRE)

STOPPED = """
version: 1
policies:
  - name: stopped
    match: {names: [llama-3-8b-chat]}
    enforce: {enforce}
    default: stopped
"""

OFFICE = document(policies.OFFICE)


async def test_expiry_deletes_at_the_instant_when_deletion_is_allowed(make_harness: Callable[..., Harness]) -> None:
    """With SCALER_ALLOW_DELETE the deployment is deleted one hour after the scaler first saw it, once."""
    harness = make_harness(EXPIRE, start=at_utc(MONDAY, "10:00"), allow_delete=True)
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "13:00"))
    assert ["Mon 11:00:00 tmp-eval-qwen-32b delete -> 200"] == [str(call) for call in harness.calls()]


async def test_expiry_is_blocked_and_reported_once_without_permission(make_harness: Callable[..., Harness]) -> None:
    """Without SCALER_ALLOW_DELETE no delete is sent; the decision is recorded, logged and counted once."""
    harness = make_harness(EXPIRE, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "14:00"))
    assert [] == harness.calls()
    assert [("delete", "blocked", "deletion is not allowed (SCALER_ALLOW_DELETE is false)")] == [
        (record.action, record.result, record.platform_message) for record in harness.audit()
    ]
    assert 1.0 == harness.sample("scaler_actions_total", action="delete", result="blocked", policy="temporary")
    assert 1 == len([line for line in logs if line["event"] == "action" and line["result"] == "blocked"])


async def test_a_blocked_expiry_is_reported_once_while_the_schedule_goes_on(
    make_harness: Callable[..., Harness],
) -> None:
    """Expired without permission at 11:00: the 20:00 night stop still goes out; the blocked delete is recorded once."""
    harness = make_harness(
        EXPIRE.replace(
            "default: running",
            "default: running\n    windows:\n      - {name: night, between: '20:00-07:00', state: stopped}",
        ),
        start=at_utc(MONDAY, "10:00"),
    )
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "23:00"))
    assert ["Mon 20:00:00 tmp-eval-qwen-32b stop -> 200"] == [str(call) for call in harness.calls()]
    assert [("delete", "blocked"), ("stop", "success")] == [
        (record.action, record.result) for record in harness.audit()
    ]


async def test_first_sight_applies_the_desired_state_once(make_harness: Callable[..., Harness]) -> None:
    """A fresh install stops a deployment whose desired state is stopped, once; later cycles send nothing."""
    harness = make_harness(STOPPED.replace("{enforce}", "false"), start=at_utc(MONDAY, "10:00"))
    for _ in range(3):
        await harness.cycle()
        harness.advance(minutes=1)
    assert ["Mon 10:00:00 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]


async def test_an_already_stopped_deployment_is_noted_without_a_call(make_harness: Callable[..., Harness]) -> None:
    """First sight of a SCALED_DOWN deployment whose desired state is stopped: no call, applied state noted."""
    harness = make_harness(STOPPED.replace("{enforce}", "false"), start=at_utc(MONDAY, "10:00"))
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "SCALED_DOWN"})
    await harness.cycle()
    applied = harness.store.get_applied(UUID(LLAMA_8B))
    assert [] == harness.calls()
    assert applied is not None and "stopped" == applied.kind


async def test_without_enforce_a_manual_start_is_respected_until_the_next_change(
    make_harness: Callable[..., Harness],
) -> None:
    """enforce: false: a person starts the stopped deployment; the scaler leaves it running."""
    harness = make_harness(STOPPED.replace("{enforce}", "false"), start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DEPLOYED"})
    harness.advance(minutes=5)
    await harness.cycle()
    harness.advance(minutes=5)
    await harness.cycle()
    assert ["stop"] == [call.action for call in harness.calls()]


async def test_with_enforce_a_manual_start_is_undone_at_the_next_cycle(make_harness: Callable[..., Harness]) -> None:
    """enforce: true: a person starts the stopped deployment; the next cycle stops it again."""
    harness = make_harness(STOPPED.replace("{enforce}", "true"), start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DEPLOYED"})
    harness.advance(minutes=5)
    await harness.cycle()
    assert ["Mon 10:00:00 llama-3-8b-chat stop -> 200", "Mon 10:05:00 llama-3-8b-chat stop -> 200"] == [
        str(call) for call in harness.calls()
    ]
    assert "enforce: DEPLOYED while it should be stopped (default)" == harness.audit()[-1].reason


async def test_without_enforce_a_manual_change_lasts_until_the_window_changes(
    make_harness: Callable[..., Harness],
) -> None:
    """Stopped by hand during office hours, the deployment stays stopped until the window closes and opens again."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "09:00"))
    await harness.cycle()
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "SCALED_DOWN"})
    await harness.run_until(MONDAY + timedelta(days=1, hours=9))
    assert [
        "Mon 09:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Tue 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Tue 08:00:00 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in harness.calls()]


async def test_a_suspended_deployment_is_left_alone_and_converges_when_the_suspension_ends(
    make_harness: Callable[..., Harness],
) -> None:
    """Suspended over the 08:00 opening: nothing is sent; at the suspension's end the desired state is applied once."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.store.suspend(
        UUID(LLAMA_8B), "llama-3-8b-chat", at_utc(MONDAY, "09:30"), "incident 42", harness.now(), "alice"
    )
    await harness.run_until(at_utc(MONDAY, "12:00"))
    assert [
        "Mon 06:00:00 llama-3-8b-chat stop -> 200",
        "Mon 09:30:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 09:30:00 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in harness.calls()]
    assert "suspension ended: the desired state is applied once (window:office)" == harness.audit()[-1].reason


async def test_a_suspension_shows_in_metrics_and_status(make_harness: Callable[..., Harness]) -> None:
    """While suspended the gauge is 1 and /status names the suspension, its reason and who set it."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    harness.store.suspend(UUID(LLAMA_8B), "llama-3-8b-chat", at_utc(MONDAY, "09:30"), "launch", harness.now(), "bob")
    await harness.cycle()
    document = await harness.daemon.status_document()
    entry = next(item for item in document["deployments"] if item["deployment_id"] == LLAMA_8B)
    assert 1.0 == harness.sample("scaler_deployment_suspended", deployment="llama-3-8b-chat", deployment_id=LLAMA_8B)
    assert {"until": "2026-03-02T09:30:00Z", "reason": "launch", "by": "bob", "since": "2026-03-02T06:00:00Z"} == entry[
        "suspension"
    ]
    assert ("suspended", "2026-03-02T09:30:00Z") == (entry["desired"]["source"], entry["next_transition"]["at"])
    assert [] == harness.calls()


async def test_dry_run_sends_no_mutating_call_and_reports_each_change_once(
    make_harness: Callable[..., Harness],
) -> None:
    """A dry run over a day decides and records every action as dry_run, each change once, and sends none.

    Nothing was really stopped, so at the opening the deployment still runs: no start is needed.
    """
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"), dry_run=True)
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "23:00"))
    assert [] == harness.calls()
    assert [
        ("stop", "dry_run"),
        ("update_replicas", "dry_run"),
        ("stop", "dry_run"),
    ] == [(record.action, record.result) for record in harness.audit()]
    assert harness.store.get_applied(UUID(LLAMA_8B)) is None
    assert 2.0 == harness.sample("scaler_actions_total", action="stop", result="dry_run", policy="office")


async def test_a_deployment_no_policy_governs_is_never_touched(make_harness: Callable[..., Harness]) -> None:
    """whisper-v3 is matched by no policy: no call, and /status says why it is skipped."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    document = await harness.daemon.status_document()
    entry = next(item for item in document["deployments"] if item["deployment_id"] == WHISPER)
    assert "no policy governs it" == entry["skipped"]
    assert [] == [call for call in harness.calls() if call.deployment == "whisper-v3"]


async def test_failed_and_deploying_deployments_are_skipped_with_the_reason(
    make_harness: Callable[..., Harness],
) -> None:
    """A policy selecting every deployment skips FAILED and DEPLOYING ones and records why."""
    harness = make_harness(
        "version: 1\npolicies:\n  - name: all\n    match: {names: ['*']}\n    default: stopped\n",
        start=at_utc(MONDAY, "06:00"),
    )
    await harness.cycle()
    document = await harness.daemon.status_document()
    skipped = {item["deployment_name"]: item["skipped"] for item in document["deployments"] if item["skipped"]}
    assert {
        "legacy-gpt-j": "status FAILED: the scaler acts only on DEPLOYED and SCALED_DOWN deployments",
        "vision-ocr-staging": "status DEPLOYING: the scaler acts only on DEPLOYED and SCALED_DOWN deployments",
    } == skipped
    assert {"legacy-gpt-j", "vision-ocr-staging"}.isdisjoint({call.deployment for call in harness.calls()})


async def test_expiry_of_a_deployment_is_counted_from_its_first_sighting(make_harness: Callable[..., Harness]) -> None:
    """/status shows when the temporary deployment expires: one hour after the first cycle saw it."""
    harness = make_harness(EXPIRE, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    document = await harness.daemon.status_document()
    entry = next(item for item in document["deployments"] if item["deployment_id"] == TMP_QWEN)
    assert ("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z") == (entry["first_seen"], entry["expires_at"])


async def test_an_unknown_status_is_left_alone_and_logged_once(make_harness: Callable[..., Harness]) -> None:
    """llama listed as HIBERNATING over three cycles: no call, one warning naming the status, the gauge says UNKNOWN."""
    harness = make_harness(document(policies.LLAMA_STOPPED), start=at_utc(MONDAY, "10:00"))
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "HIBERNATING"})
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            await harness.cycle()
            harness.advance(minutes=1)
    warnings = [(line["deployment"], line["status"]) for line in logs if line["event"] == "deployment_status_unknown"]
    assert [] == harness.calls()
    assert [("llama-3-8b-chat", "HIBERNATING")] == warnings
    assert 1.0 == harness.sample(
        "scaler_deployment_status", deployment="llama-3-8b-chat", deployment_id=LLAMA_8B, status="UNKNOWN"
    )
