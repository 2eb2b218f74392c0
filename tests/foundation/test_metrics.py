"""Metrics: declared once on an injectable registry, bounded series present from the start."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from scaler.metrics import ACTIONS, ACTION_RESULTS, Metrics, set_one_hot


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
        "scaler_api_request_errors_total", {"endpoint": "startstop", "reason": "wallet_blocked"}
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


def test_set_one_hot_marks_only_the_current_value() -> None:
    """set_one_hot sets the current label value to 1 and every other to 0."""
    metrics = Metrics()
    labels = {"deployment": "whisper-v3", "deployment_id": "1e99a854-26de-4c19-b6b6-68c7e03c39c3"}
    set_one_hot(metrics.deployment_health, labels, "health", "Degraded", ("Healthy", "Degraded"))
    assert 1.0 == metrics.registry.get_sample_value(
        "scaler_deployment_health", {**labels, "health": "Degraded"}
    )
    assert 0.0 == metrics.registry.get_sample_value(
        "scaler_deployment_health", {**labels, "health": "Healthy"}
    )


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
