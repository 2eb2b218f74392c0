"""Metrics: declared once on an injectable registry, bounded series present from the start."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from scaler.metrics import ACTIONS, ACTION_RESULTS, HEALTH_VALUES, DeploymentSeries, Metrics


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
    """A tracked deployment's health series is 1 for its current value and 0 for every other value."""
    metrics = Metrics()
    series = DeploymentSeries("whisper-v3", LABELS["deployment_id"], "p", "nvidia-l4", health="Degraded")
    metrics.deployments.track(series)
    values = {
        health: metrics.registry.get_sample_value("scaler_deployment_health", {**LABELS, "health": health})
        for health in HEALTH_VALUES
    }
    assert {health: (1.0 if health == "Degraded" else 0.0) for health in HEALTH_VALUES} == values


def test_desired_replicas_exist_only_while_bounds_are_desired() -> None:
    """scaler_deployment_desired_replicas is absent without desired bounds and present with them."""
    metrics = Metrics()
    series = metrics.deployments.track(DeploymentSeries("whisper-v3", LABELS["deployment_id"], "p", "nvidia-l4"))
    before = metrics.registry.get_sample_value("scaler_deployment_desired_replicas", {**LABELS, "bound": "max"})
    series.desired_min, series.desired_max = 1, 3
    after = metrics.registry.get_sample_value("scaler_deployment_desired_replicas", {**LABELS, "bound": "max"})
    assert (None, 3.0) == (before, after)


def test_a_dropped_deployment_has_no_series() -> None:
    """Once dropped, none of a deployment's series is exported, its savings counters included."""
    metrics = Metrics()
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
