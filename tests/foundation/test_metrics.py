"""Metrics: declared once on an injectable registry, bounded series present from the start."""

from __future__ import annotations

import typing

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scaler.metrics import (
    ACTION_RESULTS,
    ACTIONS,
    DEPLOYMENT_DETAILS,
    HEALTH_VALUES,
    SERIES_PER_DEPLOYMENT,
    DeploymentSeries,
    Metrics,
)
from scaler.settings import Settings


def test_two_instances_do_not_collide() -> None:
    """Each Metrics gets its own registry, so tests can build as many as they like."""
    first, second = Metrics(), Metrics()
    first.actions.labels(action="stop", result="success", policy="p").inc()
    assert second.registry.get_sample_value(
        "scaler_actions_total", {"action": "stop", "result": "success", "policy": "p"}
    ) is None


def test_bounded_series_exist_before_their_first_event() -> None:
    """Error and event counters are initialised at zero for every bounded label value."""
    registry = CollectorRegistry()
    Metrics(registry)
    assert 0.0 == registry.get_sample_value(
        "scaler_action_errors_total", {"action": "restart", "reason": "wallet_blocked"}
    )
    assert 0.0 == registry.get_sample_value("scaler_scheduler_events_total", {"event": "missed"})
    assert 0.0 == registry.get_sample_value("scaler_policy_reloads_total", {"result": "error"})


def test_policy_series_are_initialised_for_every_action_and_result() -> None:
    """initialise_policy creates one zero series per action and result for that policy."""
    metrics = Metrics()
    metrics.initialise_policy("office-hours")
    values = {
        (action, result): metrics.registry.get_sample_value(
            "scaler_actions_total", {"action": action, "result": result, "policy": "office-hours"}
        )
        for action in ACTIONS
        for result in ACTION_RESULTS
    }
    assert {0.0} == set(values.values())


LABELS = {"deployment": "whisper-v3", "deployment_id": "1e99a854-26de-4c19-b6b6-68c7e03c39c3"}


def test_a_deployment_health_is_one_hot() -> None:
    """In full detail, a tracked deployment's health series is 1 for its current value and 0 for every other value."""
    metrics = Metrics(deployment_detail="full")
    series = DeploymentSeries("whisper-v3", LABELS["deployment_id"], "p", "nvidia-l4", health="Degraded")
    metrics.deployments.track(series)
    values = {
        health: metrics.registry.get_sample_value("scaler_deployment_health", {**LABELS, "health": health})
        for health in HEALTH_VALUES
    }
    assert {health: (1.0 if health == "Degraded" else 0.0) for health in HEALTH_VALUES} == values


def test_desired_replicas_exist_only_while_bounds_are_desired() -> None:
    """scaler_deployment_desired_replicas (full detail) is absent without desired bounds and present with them."""
    metrics = Metrics(deployment_detail="full")
    series = metrics.deployments.track(DeploymentSeries("whisper-v3", LABELS["deployment_id"], "p", "nvidia-l4"))
    before = metrics.registry.get_sample_value("scaler_deployment_desired_replicas", {**LABELS, "bound": "max"})
    series.desired_min, series.desired_max = 1, 3
    after = metrics.registry.get_sample_value("scaler_deployment_desired_replicas", {**LABELS, "bound": "max"})
    assert (None, 3.0) == (before, after)


def test_a_dropped_deployment_has_no_series() -> None:
    """Once dropped, none of a deployment's series is exported, its savings counters included."""
    metrics = Metrics(deployment_detail="full")
    metrics.deployments.track(DeploymentSeries("whisper-v3", LABELS["deployment_id"], "p", "nvidia-l4"))
    metrics.deployments.drop(LABELS["deployment_id"])
    exported = [
        sample
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.labels.get("deployment_id") == LABELS["deployment_id"]
    ]
    assert [] == exported


def test_only_the_families_asked_for_are_rendered() -> None:
    """A scrape restricted with name[] (as the benchmark and Prometheus federation do) finds deployment series."""
    metrics = Metrics()
    metrics.deployments.track(DeploymentSeries("whisper-v3", LABELS["deployment_id"], "p", "nvidia-l4"))
    text = generate_latest(metrics.registry.restricted_registry(["scaler_deployment_info"])).decode()
    families = {line.split("{")[0] for line in text.splitlines() if not line.startswith("#")}
    assert ["scaler_deployment_info"] == sorted(families)


def test_exposition_follows_naming_conventions() -> None:
    """Every family is prefixed scaler_, counters end in _total, and no _created series is exported."""
    registry = Metrics().registry
    for family in registry.collect():
        assert family.name.startswith("scaler_"), family.name
        for sample in family.samples:
            assert not sample.name.endswith("_created"), sample.name
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name
    assert "# TYPE scaler_actions_total counter" in generate_latest(registry).decode()


ID = LABELS["deployment_id"]


def _deployment_series(metrics: Metrics) -> dict[str, int]:
    """Per-deployment series of one scrape of ``metrics``, counted by deployment id."""
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if "deployment_id" in sample.labels:
                counts[sample.labels["deployment_id"]] = counts.get(sample.labels["deployment_id"], 0) + 1
    return counts


def _busiest(deployment_id: str, name: str = "whisper-v3") -> DeploymentSeries:
    """A deployment with every series a detail can show: bounds desired, health observed, savings counted."""
    return DeploymentSeries(name, deployment_id, "office-hours", "nvidia-l4", status="DEPLOYED", health="Healthy",
                            pods_ready=2, desired_min=1, desired_max=3, desired_running=1, next_transition=1.7e9)


@pytest.mark.parametrize(("detail", "expected"), [("full", 26), ("compact", 7), ("off", 0)])
def test_series_per_deployment_in_each_detail(detail: str, expected: int) -> None:
    """A deployment with every series its detail can show costs 26 in full, 7 in compact (at most 8), 0 off."""
    metrics = Metrics(deployment_detail=detail)  # type: ignore[arg-type]
    metrics.deployments.track(_busiest(ID))
    counted = _deployment_series(metrics).get(ID, 0)
    assert (expected, expected) == (counted, SERIES_PER_DEPLOYMENT[detail])


def test_compact_shows_only_the_current_status_and_health() -> None:
    """In compact detail the status and health are one series each, the value as a label, keyed by id alone."""
    metrics = Metrics(deployment_detail="compact")
    metrics.deployments.track(_busiest(ID))
    shown = {
        name: [sample.labels for sample in family.samples]
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for name in [family.name]
        if name in ("scaler_deployment_status", "scaler_deployment_health")
    }
    assert {"scaler_deployment_status": [{"deployment_id": ID, "status": "DEPLOYED"}],
            "scaler_deployment_health": [{"deployment_id": ID, "health": "Healthy"}]} == shown


def test_compact_health_is_absent_until_observed() -> None:
    """A deployment whose health was never observed has no health series in compact detail."""
    metrics = Metrics(deployment_detail="compact")
    metrics.deployments.track(DeploymentSeries("whisper-v3", ID, "p", "nvidia-l4", status="DEPLOYING"))
    health = [s for f in metrics.registry.collect() if f.name == "scaler_deployment_health" for s in f.samples]
    assert [] == health


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_policy_series_exist_in_every_detail(detail: str) -> None:
    """Deployments by policy, status, health and desired state, GPUs and savings by policy: in every detail."""
    metrics = Metrics(deployment_detail=detail)  # type: ignore[arg-type]
    first = metrics.deployments.track(_busiest(ID))
    first.running_gpus = 2
    second = metrics.deployments.track(_busiest("2e99a854-26de-4c19-b6b6-68c7e03c39c3", "whisper-v4"))
    second.running_gpus = 1
    metrics.deployments.track(DeploymentSeries("paused", "3e99a854-26de-4c19-b6b6-68c7e03c39c3", "office-hours",
                                               "nvidia-l4", status="SCALED_DOWN", suspended=1, desired_running=-1))
    metrics.deployments.add_saving(first, gpu_seconds=3600.0, dollars=2.5)
    sample = metrics.registry.get_sample_value
    policy = {"policy": "office-hours"}
    assert (2.0, 1.0, 3.0, 3600.0, 2.5) == (
        sample("scaler_policy_deployments", {**policy, "status": "DEPLOYED", "health": "Healthy", "desired": "running"}),
        sample("scaler_policy_deployments", {**policy, "status": "SCALED_DOWN", "health": "", "desired": "suspended"}),
        sample("scaler_policy_running_gpus", {**policy, "accelerator": "nvidia-l4"}),
        sample("scaler_policy_gpu_seconds_saved_total", {**policy, "accelerator": "nvidia-l4"}),
        sample("scaler_policy_cost_saved_dollars_total", {**policy, "accelerator": "nvidia-l4"}),
    )


def test_policy_savings_stay_counted_when_the_deployment_goes() -> None:
    """A deployment leaving the inventory takes its own savings series along, not its policy's: that counter
    never goes down."""
    metrics = Metrics()
    series = metrics.deployments.track(_busiest(ID))
    metrics.deployments.add_saving(series, gpu_seconds=60.0, dollars=0.0)
    metrics.deployments.drop(ID)
    labels = {"policy": "office-hours", "accelerator": "nvidia-l4"}
    assert (60.0, None) == (
        metrics.registry.get_sample_value("scaler_policy_gpu_seconds_saved_total", labels),
        metrics.registry.get_sample_value("scaler_gpu_seconds_saved_total", {"deployment_id": ID}),
    )


@pytest.mark.parametrize(
    "desired", [(1, 1, 0, "running"), (1, 0, 0, "scale_to_zero"), (0, None, 0, "stopped"), (-1, None, 0, "none"),
                (-1, None, 1, "suspended")],
    ids=lambda d: d[3],
)
def test_desired_label_of_the_policy_series(desired: tuple[int, int | None, int, str]) -> None:
    """The desired label says running (a floor above 0), scale_to_zero, stopped, none (left alone) or suspended."""
    running, floor, suspended, expected = desired
    series = DeploymentSeries("whisper-v3", ID, "p", "nvidia-l4", desired_running=running, desired_min=floor,
                              desired_max=None if floor is None else 2, suspended=suspended)
    assert expected == series.desired


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_exposition_is_what_the_registry_collects(detail: str) -> None:
    """The fast writer /metrics serves gives exactly the samples prometheus_client writes from the registry,
    names needing escapes included."""
    metrics = Metrics(deployment_detail=detail)  # type: ignore[arg-type]
    metrics.deployments.track(_busiest(ID, name='odd "name"\\with\nescapes'))
    metrics.deployments.track(DeploymentSeries("fresh", "4e99a854-26de-4c19-b6b6-68c7e03c39c3", "", "cpu"))
    metrics.actions.labels(action="stop", result="success", policy="p").inc()

    def samples(text: bytes) -> set[tuple[str, frozenset[tuple[str, str]], float]]:
        return {(s.name, frozenset(s.labels.items()), s.value)
                for family in text_string_to_metric_families(text.decode()) for s in family.samples}

    assert samples(generate_latest(metrics.registry)) == samples(metrics.exposition())


def test_exposition_can_be_restricted_by_name() -> None:
    """name[] (as the benchmark asks) restricts the exposition to those series."""
    metrics = Metrics()
    metrics.deployments.track(_busiest(ID))
    text = metrics.exposition(["scaler_policy_deployments", "scaler_leader"]).decode()
    families = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")}
    assert ["scaler_leader", "scaler_policy_deployments"] == sorted(families)


def test_the_setting_offers_the_details_the_metrics_know() -> None:
    """SCALER_METRICS_DEPLOYMENT_DETAIL accepts exactly the details DeploymentMetrics renders; compact by default."""
    field = Settings.model_fields["metrics_deployment_detail"]
    assert (DEPLOYMENT_DETAILS, "compact") == (typing.get_args(field.annotation), field.default)


def test_every_family_is_documented() -> None:
    """Every family any detail exports has its row in the metrics page's table."""
    from tests.doc_pages import marked_section

    section = marked_section("metrics.md", "metrics")
    suffix = {"counter": "_total", "info": "_info"}
    names = {
        family.name + suffix.get(family.type, "")
        for detail in DEPLOYMENT_DETAILS
        for family in Metrics(deployment_detail=detail).registry.collect()  # type: ignore[arg-type]
    }
    assert [] == sorted(name for name in names if f"| `{name}` |" not in section)
