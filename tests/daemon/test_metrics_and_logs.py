"""What the daemon exports and logs, asserted on a fresh registry and captured logs."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry

from scaler import __version__
from tests.daemon.harness import LLAMA_8B, MONDAY, WHISPER, Harness, at_utc
from tests.daemon.policies import NIGHT, OFFICE_BERLIN, document

OFFICE_AND_NIGHT = document(OFFICE_BERLIN, NIGHT)

LLAMA = {"deployment": "llama-3-8b-chat", "deployment_id": LLAMA_8B}
WHISPER_LABELS = {"deployment": "whisper-v3", "deployment_id": WHISPER}


async def test_one_log_line_per_action_with_everything_a_person_needs(make_harness: Callable[..., Harness]) -> None:
    """The action line names deployment, policy, rule, from, to, reason, result, dry run and the request id sent."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "06:30"))
    await harness.cycle()
    harness.sim.requests.clear()
    with structlog.testing.capture_logs() as logs:
        await harness.run_until(at_utc(MONDAY, "07:30"))
    lines = [line for line in logs if line["event"] == "action"]
    sent = [entry for entry in harness.requests() if entry.endpoint in ("update_replicas", "startstop")]
    assert [
        {
            "event": "action",
            "log_level": "info",
            "deployment": "llama-3-8b-chat",
            "deployment_id": LLAMA_8B,
            "action": "update_replicas",
            "min_replicas": 1,
            "max_replicas": 3,
            "policy": "office",
            "rule": "office",
            "from": "stopped",
            "to": "min=1 max=3",
            "reason": "desired state changed from stopped (window:office)",
            "result": "success",
            "dry_run": False,
            "request_id": sent[0].request_id,
            "message": "Autoscaling configuration updated successfully",
        },
        {
            "event": "action",
            "log_level": "info",
            "deployment": "llama-3-8b-chat",
            "deployment_id": LLAMA_8B,
            "action": "start",
            "policy": "office",
            "rule": "office",
            "from": "stopped",
            "to": "min=1 max=3",
            "reason": "desired state changed from stopped (window:office)",
            "result": "success",
            "dry_run": False,
            "request_id": sent[1].request_id,
            "message": "Deployment started successfully",
        },
    ] == lines


async def test_actions_are_counted_by_action_result_and_policy(make_harness: Callable[..., Harness]) -> None:
    """scaler_actions_total counts each call once; the series of every policy exist from the start."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    before = harness.sample("scaler_actions_total", action="start", result="success", policy="night")
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "23:00"))
    assert 0.0 == before
    assert {
        ("stop", "office"): 2.0,
        ("update_replicas", "office"): 1.0,
        ("start", "office"): 1.0,
        ("stop", "night"): 2.0,
        ("start", "night"): 1.0,
    } == {
        (action, policy): harness.sample("scaler_actions_total", action=action, result="success", policy=policy)
        for action, policy in [
            ("stop", "office"),
            ("update_replicas", "office"),
            ("start", "office"),
            ("stop", "night"),
            ("start", "night"),
        ]
    }


async def test_deployment_gauges_describe_status_desired_state_and_next_transition(
    make_harness: Callable[..., Harness],
) -> None:
    """At 10:00 llama runs with 1..3 until 18:00 UTC; whisper runs until 22:00; status and policy are labelled."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    assert (1.0, 3.0, 1.0) == (
        harness.sample("scaler_deployment_desired_replicas", **LLAMA, bound="min"),
        harness.sample("scaler_deployment_desired_replicas", **LLAMA, bound="max"),
        harness.sample("scaler_deployment_desired_running", **LLAMA),
    )
    assert at_utc(MONDAY, "18:00").timestamp() == harness.sample(
        "scaler_deployment_next_transition_timestamp_seconds", **LLAMA
    )
    assert at_utc(MONDAY, "22:00").timestamp() == harness.sample(
        "scaler_deployment_next_transition_timestamp_seconds", **WHISPER_LABELS
    )
    assert harness.sample("scaler_deployment_desired_replicas", **WHISPER_LABELS, bound="min") is None
    assert (1.0, 0.0) == (
        harness.sample("scaler_deployment_status", **LLAMA, status="DEPLOYED"),
        harness.sample("scaler_deployment_status", **LLAMA, status="SCALED_DOWN"),
    )
    assert 1.0 == harness.sample("scaler_deployment_info", **LLAMA, policy="office", accelerator="nvidia-l4")
    assert -1.0 == harness.sample(
        "scaler_deployment_desired_running",
        deployment="batch-transcribe",
        deployment_id="e968f995-903c-45c3-b1f1-2127c5c014c1",
    )


async def test_health_and_pods_are_published_one_hot(make_harness: Callable[..., Harness]) -> None:
    """A polled Degraded deployment shows health Degraded 1 (others 0) and its ready/not-ready pods."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    await harness.control(
        "PUT", f"deployments/{WHISPER}/health", {"data": "Degraded", "pods": {"ready": 1, "not_ready": 1}}
    )
    harness.advance(minutes=10)
    await harness.daemon.poll_health()
    assert (1.0, 0.0, 1.0, 1.0) == (
        harness.sample("scaler_deployment_health", **WHISPER_LABELS, health="Degraded"),
        harness.sample("scaler_deployment_health", **WHISPER_LABELS, health="Healthy"),
        harness.sample("scaler_deployment_pods", **WHISPER_LABELS, ready="true"),
        harness.sample("scaler_deployment_pods", **WHISPER_LABELS, ready="false"),
    )


async def test_realized_savings_count_what_was_applied(make_harness: Callable[..., Harness]) -> None:
    """Stopped 03:00-07:00 (llama, L4 $1.50) and 03:00-06:00 (whisper, T4 $1.20) against a baseline of 1 replica."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "12:00"))
    assert (4 * 3600.0, 3 * 3600.0) == (
        harness.sample("scaler_gpu_seconds_saved_total", **LLAMA, accelerator="nvidia-l4"),
        harness.sample("scaler_gpu_seconds_saved_total", **WHISPER_LABELS, accelerator="nvidia-tesla-t4"),
    )
    assert (6.0, 3.6) == (
        round(harness.sample("scaler_cost_saved_dollars_total", **LLAMA, accelerator="nvidia-l4") or 0, 6),
        round(
            harness.sample("scaler_cost_saved_dollars_total", **WHISPER_LABELS, accelerator="nvidia-tesla-t4") or 0, 6
        ),
    )


SAVINGS_SERIES = (
    ("scaler_gpu_seconds_saved_total", {**LLAMA, "accelerator": "nvidia-l4"}),
    ("scaler_gpu_seconds_saved_total", {**WHISPER_LABELS, "accelerator": "nvidia-tesla-t4"}),
    ("scaler_cost_saved_dollars_total", {**LLAMA, "accelerator": "nvidia-l4"}),
    ("scaler_cost_saved_dollars_total", {**WHISPER_LABELS, "accelerator": "nvidia-tesla-t4"}),
)


def savings(registry: CollectorRegistry) -> tuple[float, ...]:
    """llama's and whisper's GPU-seconds, then dollars, saved in ``registry`` (rounded to the micro-unit)."""
    return tuple(round(registry.get_sample_value(name, labels) or 0.0, 6) for name, labels in SAVINGS_SERIES)


def running_gpus(registry: CollectorRegistry) -> dict[str, float]:
    """``scaler_running_gpus`` of ``registry``, by accelerator."""
    return {
        sample.labels["accelerator"]: sample.value
        for metric in registry.collect()
        if metric.name == "scaler_running_gpus"
        for sample in metric.samples
    }


async def test_a_standby_counts_no_savings_but_reports_the_same_running_gpus(
    make_harness: Callable[..., Harness],
) -> None:
    """Beside the leader, a standby counts nothing saved (so the replicas' savings add up to the
    leader's) and reports the same GPUs running at every cycle (so a dashboard takes one, not the sum)."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    standby, standby_registry = harness.replica(may_act=lambda: False)
    gpus_differing = []
    for hour in range(3, 13):
        harness.at(at_utc(MONDAY, f"{hour:02d}:00"))
        await harness.cycle()
        await standby.inventory_cycle()
        if running_gpus(harness.registry) != running_gpus(standby_registry):
            gpus_differing.append(hour)
    assert ((4 * 3600.0, 3 * 3600.0, 6.0, 3.6), (0.0, 0.0, 0.0, 0.0)) == (
        savings(harness.registry),
        savings(standby_registry),
    )
    assert [] == gpus_differing


async def test_savings_counted_across_a_handover_add_up_to_one_instances(
    make_harness: Callable[..., Harness],
) -> None:
    """One replica leads until 05:00, the other from then on: each counts only while it leads, and
    their counters add up to what one instance counts alone (4 h and 3 h stopped, $6.00 and $3.60)."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    leader = {"name": "first"}
    first, first_registry = harness.replica(may_act=lambda: leader["name"] == "first")
    second, second_registry = harness.replica(may_act=lambda: leader["name"] == "second")
    for hour in range(3, 13):
        harness.at(at_utc(MONDAY, f"{hour:02d}:00"))
        await first.inventory_cycle()
        await second.inventory_cycle()
        if hour == 5:
            leader["name"] = "second"
    first_part, second_part = savings(first_registry), savings(second_registry)
    assert ((2 * 3600.0, 2 * 3600.0, 3.0, 2.4), (2 * 3600.0, 3600.0, 3.0, 1.2)) == (first_part, second_part)
    assert (4 * 3600.0, 3 * 3600.0, 6.0, 3.6) == tuple(
        round(a + b, 6) for a, b in zip(first_part, second_part, strict=True)
    )


async def test_a_manual_start_saves_nothing(make_harness: Callable[..., Harness]) -> None:
    """Applied stopped but started by a person: the stopped state is not in effect, so nothing is counted."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DEPLOYED"})
    harness.advance(minutes=1)
    await harness.cycle()
    harness.advance(hours=2)
    await harness.cycle()
    assert 60.0 == harness.sample("scaler_gpu_seconds_saved_total", **LLAMA, accelerator="nvidia-l4")


async def test_running_gpus_count_the_floor_of_deployed_deployments(make_harness: Callable[..., Harness]) -> None:
    """At 03:00 llama and whisper are stopped: the L4s running are the canary's and the embeddings' (1 each),
    the T4 the reranker's; batch-transcribe is paused."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    assert (2.0, 1.0) == (
        harness.sample("scaler_running_gpus", accelerator="nvidia-l4"),
        harness.sample("scaler_running_gpus", accelerator="nvidia-tesla-t4"),
    )


async def test_loop_metrics_and_build_info(make_harness: Callable[..., Harness]) -> None:
    """A cycle observes its duration and stamps its end; the build info names the version."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    assert (1.0, at_utc(MONDAY, "03:00").timestamp(), 1.0) == (
        harness.sample("scaler_reconcile_duration_seconds_count"),
        harness.sample("scaler_last_reconcile_timestamp_seconds"),
        harness.sample("scaler_build_info", version=__version__),
    )
    await harness.daemon.poll_health()
    assert at_utc(MONDAY, "03:00").timestamp() == harness.sample("scaler_last_health_poll_timestamp_seconds")


def policy_totals(registry: CollectorRegistry, name: str) -> dict[tuple[str, str], float]:
    """The per-policy series ``name`` of ``registry``, by (policy, accelerator), zeros left out."""
    return {
        (sample.labels["policy"], sample.labels["accelerator"]): round(sample.value, 6)
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == name and sample.value
    }


async def test_without_deployment_detail_the_policy_series_tell_the_savings_and_gpus(
    make_harness: Callable[..., Harness],
) -> None:
    """With SCALER_METRICS_DEPLOYMENT_DETAIL=off no series names a deployment, yet the per-policy series
    count what full detail counts per deployment (llama 4 h, whisper 3 h stopped; $6.00 and $3.60) and the
    GPUs running by policy add up to scaler_running_gpus."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"), metrics_deployment_detail="off")
    for hour in range(3, 13):
        harness.at(at_utc(MONDAY, f"{hour:02d}:00"))
        await harness.cycle()
    named = {s.name for f in harness.registry.collect() for s in f.samples if "deployment_id" in s.labels}
    gpus_by_accelerator: dict[str, float] = {}
    for (_policy, accelerator), gpus in policy_totals(harness.registry, "scaler_policy_running_gpus").items():
        gpus_by_accelerator[accelerator] = gpus_by_accelerator.get(accelerator, 0.0) + gpus
    assert set() == named
    assert (
        {("office", "nvidia-l4"): 4 * 3600.0, ("night", "nvidia-tesla-t4"): 3 * 3600.0},
        {("office", "nvidia-l4"): 6.0, ("night", "nvidia-tesla-t4"): 3.6},
    ) == (
        policy_totals(harness.registry, "scaler_policy_gpu_seconds_saved_total"),
        policy_totals(harness.registry, "scaler_policy_cost_saved_dollars_total"),
    )
    assert {k: v for k, v in running_gpus(harness.registry).items() if v} == gpus_by_accelerator


async def test_compact_detail_shows_each_deployments_current_status_by_id(make_harness: Callable[..., Harness]) -> None:
    """In compact detail (the default) llama, stopped at night, shows one status series, SCALED_DOWN, keyed by its
    id, and the policy series count it stopped under its policy."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"), metrics_deployment_detail="compact")
    await harness.cycle()
    statuses = [
        (sample.labels, sample.value)
        for metric in harness.registry.collect()
        for sample in metric.samples
        if sample.name == "scaler_deployment_status" and sample.labels["deployment_id"] == LLAMA_8B
    ]
    stopped = harness.sample("scaler_policy_deployments", policy="office", status="SCALED_DOWN", health="",
                             desired="stopped")
    assert ([({"deployment_id": LLAMA_8B, "status": "SCALED_DOWN"}, 1.0)], 1.0) == (statuses, stopped)


async def test_each_cycle_binds_its_own_cycle_id(make_harness: Callable[..., Harness]) -> None:
    """Every line of one reconcile cycle, one health poll and one boundary wake-up carries that run's cycle_id
    and kind; the first cycle's health poll keeps the cycle's id; lines outside cycles carry none."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "06:30"))
    merge = [structlog.contextvars.merge_contextvars]
    with structlog.testing.capture_logs(processors=merge) as first_cycle:
        await harness.cycle()
    with structlog.testing.capture_logs(processors=merge) as boundary:
        harness.at(at_utc(MONDAY, "07:00"))
        await harness.daemon.wake_up()
    await harness.control("PUT", f"deployments/{WHISPER}/health", {"data": "Wobbly"})  # logged when polled
    harness.advance(minutes=10)
    with structlog.testing.capture_logs(processors=merge) as health:
        await harness.daemon.poll_health()
    with structlog.testing.capture_logs(processors=merge) as outside:
        structlog.get_logger().info("between_cycles")
    runs = {"reconcile": first_cycle, "boundary": boundary, "health": health}
    assert {kind: True for kind in runs} == {kind: bool(lines) for kind, lines in runs.items()}, runs
    bound = {kind: {(line.get("cycle"), line.get("cycle_id")) for line in lines} for kind, lines in runs.items()}
    ids = {kind: next(iter(pairs))[1] for kind, pairs in bound.items()}
    assert {kind: {(kind, ids[kind])} for kind in runs} == bound
    assert (3, None) == (len(set(ids.values())), outside[0].get("cycle_id"))
    assert "action" in {line["event"] for line in boundary}
