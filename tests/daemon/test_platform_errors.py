"""Every platform error the contract names, handled as docs/how-it-works.md's table of platform errors says,
end to end against the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest
import structlog

from scaler.daemon.consequences import backoff_seconds
from scaler.sim import DEFAULT_ORG_ID
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document

OFFICE = document(policies.OFFICE)

#: Office hours, a night stop, and sdxl-image-gen stopped 06:15-12:00.
WALLET = document(
    policies.OFFICE,
    policies.NIGHT,
    """
  - name: early-stop
    match: {names: [sdxl-image-gen]}
    default: running
    windows:
      - name: morning
        between: "06:15-12:00"
        state: stopped
""",
)


def test_backoff_doubles_from_one_minute_to_thirty() -> None:
    """1, 2, 4, 8, 16 minutes, then 30 minutes for every further failure."""
    assert [60, 120, 240, 480, 960, 1800, 1800] == [backoff_seconds(failures) for failures in range(1, 8)]


async def test_quota_backs_off_exponentially_and_keeps_the_desired_state(make_harness: Callable[..., Harness]) -> None:
    """A quota refusal is retried after 1, 2 and 4 minutes; once quota frees up the state is applied."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    await harness.control("PATCH", "quotas", {"nvidia-l4": 2})
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "08:05"), interval=timedelta(minutes=30))
        await harness.control("PATCH", "quotas", {"nvidia-l4": None})
        await harness.run_until(at_utc(MONDAY, "09:00"), interval=timedelta(minutes=30))
    assert [
        "Mon 06:00:00 llama-3-8b-chat stop -> 200",
        "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 400",
        "Mon 08:01:00 llama-3-8b-chat update_replicas 1..3 -> 400",
        "Mon 08:03:00 llama-3-8b-chat update_replicas 1..3 -> 400",
        "Mon 08:07:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 08:07:00 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in harness.calls()]
    refused = [line for line in logs if line["event"] == "action" and line["result"] == "error"]
    assert ["Insufficient GPU quota for requested replicas"] * 3 == [line["message"] for line in refused]
    assert 3.0 == harness.sample("scaler_action_errors_total", action="update_replicas", reason="quota")
    assert {} == harness.store.backoffs()


async def test_a_refusal_keeps_the_applied_state_and_an_unanswered_update_forgets_it(
    make_harness: Callable[..., Harness],
) -> None:
    """At 08:00 a quota refusal (first attempt) proves nothing changed: "stopped" stays on record. At 08:01
    every attempt of the update gets a 503 (any of them may have landed): the applied state is forgotten,
    and the next cycle applies the desired state once more from what the platform shows."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "07:00"))
    await harness.cycle()
    await harness.control("PATCH", "quotas", {"nvidia-l4": 2})
    harness.at(at_utc(MONDAY, "08:00"))
    await harness.cycle()
    refused = harness.store.get_applied(UUID(LLAMA_8B))
    await harness.control("PATCH", "quotas", {"nvidia-l4": None})
    harness.store.clear_backoff(UUID(LLAMA_8B))
    await harness.control("POST", "faults/fail-next", {"status": 503, "endpoint": "update_replicas", "count": 2})
    harness.at(at_utc(MONDAY, "08:01"))
    with structlog.testing.capture_logs() as logs:
        await harness.cycle()
    unanswered = harness.store.get_applied(UUID(LLAMA_8B))
    harness.at(at_utc(MONDAY, "08:02"))
    await harness.cycle()
    assert refused is not None and "stopped" == refused.kind
    assert unanswered is None
    failed = [line for line in logs if line["event"] == "action" and line["result"] == "error"]
    assert ["outcome unknown: the desired state is applied again"] == [line["consequence"] for line in failed]
    assert [
        "Mon 07:00:00 llama-3-8b-chat stop -> 200",
        "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 400",
        "Mon 08:01:00 llama-3-8b-chat update_replicas 1..3 -> 503",
        "Mon 08:01:00 llama-3-8b-chat update_replicas 1..3 -> 503",
        "Mon 08:02:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 08:02:00 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in harness.calls()]


async def test_a_blocked_wallet_pauses_starts_lets_stops_out_and_probes_every_ten_minutes(
    make_harness: Callable[..., Harness],
) -> None:
    """402: starts wait (one probe 10 min after the last 402), stops still go out, a successful probe lifts the block.

    The stop's own 402 at 06:15 re-arms the probe to 06:25; the probe cycle also retries the stop.
    """
    harness = make_harness(WALLET, start=at_utc(MONDAY, "05:00"))
    await harness.cycle()
    harness.calls(clear=True)
    await harness.control("PUT", "wallet", {"blocked": True})
    await harness.run_until(at_utc(MONDAY, "06:16"), interval=timedelta(minutes=30))
    blocked_gauge = harness.sample("scaler_wallet_blocked")
    await harness.control("PUT", "wallet", {"blocked": False})
    await harness.run_until(at_utc(MONDAY, "08:30"), interval=timedelta(minutes=30))
    calls = harness.calls()
    assert [
        "Mon 06:00:00 whisper-v3 start -> 402",
        "Mon 06:10:00 whisper-v3 start -> 402",
        "Mon 06:15:00 sdxl-image-gen stop -> 402",
        "Mon 06:25:00 whisper-v3 start -> 200",
        "Mon 06:25:00 sdxl-image-gen stop -> 200",
        "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 08:00:00 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in sorted(calls, key=lambda call: (call.at, call.deployment != "whisper-v3"))]
    assert (1.0, 0.0) == (blocked_gauge, harness.sample("scaler_wallet_blocked"))


async def test_a_blocked_wallet_is_logged_once_per_change(make_harness: Callable[..., Harness]) -> None:
    """Several 402s make one wallet_blocked line and one wallet_unblocked line, not one per call."""
    harness = make_harness(WALLET, start=at_utc(MONDAY, "05:00"))
    await harness.cycle()
    await harness.control("PUT", "wallet", {"blocked": True})
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "06:25"), interval=timedelta(minutes=30))
        await harness.control("PUT", "wallet", {"blocked": False})
        await harness.run_until(at_utc(MONDAY, "06:40"), interval=timedelta(minutes=30))
    assert ["wallet_blocked", "wallet_unblocked"] == [
        line["event"] for line in logs if line["event"] in ("wallet_blocked", "wallet_unblocked")
    ]


async def test_not_found_forgets_the_deployment(make_harness: Callable[..., Harness]) -> None:
    """A 404 on a call: the deployment's applied state is forgotten and the forgetting is logged."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DELETED"})
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "08:00"), interval=timedelta(hours=3))
    assert "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 404" == str(harness.calls()[-1])
    assert harness.store.get_applied(UUID(LLAMA_8B)) is None
    assert UUID(LLAMA_8B) not in harness.daemon.inventory.deployments
    assert ["deployment_gone"] == [line["event"] for line in logs if line["event"] == "deployment_gone"]
    assert 1.0 == harness.sample("scaler_action_errors_total", action="update_replicas", reason="not_found")


async def test_a_refused_token_pauses_calls_probes_every_minute_and_logs_each_change_once(
    make_harness: Callable[..., Harness],
) -> None:
    """401: readiness false, one list per minute (the probe) and nothing else, one log line per change of state."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    await harness.daemon.poll_health()  # every running deployment's health is fresh for the idle interval
    harness.sim.requests.clear()
    harness.sim.token = "rotated-token"
    with structlog.testing.capture_logs() as logs:
        for _ in range(30):  # five minutes, as the scheduler's jobs would run them
            harness.advance(seconds=10)
            await harness.daemon.probe()
            await harness.daemon.poll_health()
            await harness.cycle()
        ready_while_refused, checks = harness.daemon.readiness()
        gauge_while_refused = harness.sample("scaler_api_auth_ok")
        harness.sim.token = "sim-token"
        harness.advance(seconds=60)
        await harness.daemon.probe()
    refused_requests = [entry for entry in harness.requests() if entry.status == 401]
    assert 5 == len(refused_requests)  # 06:00:10, then one probe a minute
    assert {"list_deployments"} == {entry.endpoint for entry in refused_requests}
    assert (False, False, 0.0) == (ready_while_refused, checks["api"]["ok"], gauge_while_refused)
    assert ["api_auth_refused", "api_auth_restored"] == [
        line["event"] for line in logs if line["event"].startswith("api_auth")
    ]
    assert (True, 1.0) == (harness.daemon.readiness()[0], harness.sample("scaler_api_auth_ok"))


@pytest.mark.parametrize(("status", "reason"), [(503, "server_error"), (429, "rate_limited")])
async def test_a_transient_error_after_retries_is_decided_again_at_the_next_cycle(
    make_harness: Callable[..., Harness], status: int, reason: str
) -> None:
    """5xx or 429 on every attempt of a stop: the action fails, the state is not applied, the next cycle stops it."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.control("POST", "faults/fail-next", {"status": status, "endpoint": "startstop", "count": 2})
    await harness.cycle()
    failed_applied = harness.store.get_applied(UUID(LLAMA_8B))
    harness.advance(minutes=1)
    await harness.cycle()
    assert [f"stop -> {status}", f"stop -> {status}", "stop -> 200"] == [
        f"{call.action} -> {call.status}" for call in harness.calls()
    ]
    assert failed_applied is None
    assert [("stop", "error", reason), ("stop", "success", None)] == [
        (record.action, record.result, record.error_reason) for record in harness.audit()
    ]


async def test_health_is_not_polled_while_the_list_fails(make_harness: Callable[..., Harness]) -> None:
    """After a failed list (the platform down) the health poll sends nothing; after the next good list it polls again."""
    harness = make_harness(document(policies.RESTART), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    await harness.poll_health()  # the others' health is fresh for the idle interval: only reranker's is due again
    harness.advance(minutes=1)
    await harness.control("POST", "faults/fail-next", {"endpoint": "list_deployments", "status": 503, "count": 2})
    await harness.cycle()
    before = len(harness.requests("get_health"))
    harness.advance(seconds=30)
    await harness.poll_health()
    during = len(harness.requests("get_health")) - before
    harness.advance(seconds=30)
    await harness.cycle()
    await harness.poll_health()
    after = len(harness.requests("get_health")) - before
    assert (0, 1) == (during, after)


#: An organization id the simulated platform does not know (SCALER_ORG_ID set wrong).
WRONG_ORG = "5e7c0d3a-0000-4000-8000-00000000beef"


async def test_a_refused_org_id_pauses_starts_and_stops_organization_wide_and_probes_every_ten_minutes(
    make_harness: Callable[..., Harness],
) -> None:
    """A startstop refused for its ``org``: readiness false naming SCALER_ORG_ID, the gauge 1, one error line;
    starts and stops pause for every deployment (no backoff: the deployment is not at fault), one probe every
    10 minutes; once the platform accepts a start or stop, the pause ends (one line) and the held stops go out."""
    harness = make_harness(WALLET, start=at_utc(MONDAY, "05:00"), org_id=WRONG_ORG)
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "05:25"), interval=timedelta(minutes=5))
        ready_while_refused, checks = harness.daemon.readiness()
        gauge_while_refused = harness.sample("scaler_org_id_refused")
        backoffs = harness.store.backoffs()
        harness.sim.org_id = WRONG_ORG  # the platform's side is corrected: the probe is accepted
        await harness.run_until(at_utc(MONDAY, "05:35"), interval=timedelta(minutes=5))
    assert [
        "Mon 05:05:00 llama-3-8b-chat stop -> 400",  # both sent before the platform first refused
        "Mon 05:05:00 whisper-v3 stop -> 400",
        "Mon 05:15:00 llama-3-8b-chat stop -> 400",  # the probes, the most urgent stop first
        "Mon 05:25:00 llama-3-8b-chat stop -> 400",
        "Mon 05:35:00 llama-3-8b-chat stop -> 200",
        "Mon 05:35:00 whisper-v3 stop -> 200",
    ] == [str(call) for call in harness.calls()]
    assert (False, False, 1.0, {}) == (ready_while_refused, checks["org_id"]["ok"], gauge_while_refused, backoffs)
    assert "SCALER_ORG_ID" in checks["org_id"]["detail"] and checks["api"]["ok"]
    assert [("org_id_refused", "error"), ("org_id_accepted", "info")] == [
        (line["event"], line["log_level"]) for line in logs if line["event"].startswith("org_id")
    ]
    assert (True, 0.0) == (harness.daemon.readiness()[0], harness.sample("scaler_org_id_refused"))


async def test_a_corrected_org_id_takes_effect_at_a_restart(make_harness: Callable[..., Harness]) -> None:
    """SCALER_ORG_ID is read once: corrected and restarted, the daemon starts without the pause and the
    stops held back go out at its first cycle."""
    harness = make_harness(WALLET, start=at_utc(MONDAY, "05:00"), org_id=WRONG_ORG)
    await harness.cycle()
    refused = harness.daemon.readiness()[0]
    harness.advance(minutes=1)
    harness.restart(org_id=DEFAULT_ORG_ID)
    await harness.cycle()
    assert [
        "Mon 05:00:00 llama-3-8b-chat stop -> 400",
        "Mon 05:00:00 whisper-v3 stop -> 400",
        "Mon 05:01:00 llama-3-8b-chat stop -> 200",
        "Mon 05:01:00 whisper-v3 stop -> 200",
    ] == [str(call) for call in harness.calls()]
    assert (False, True, 0.0) == (refused, harness.daemon.readiness()[0], harness.sample("scaler_org_id_refused"))
