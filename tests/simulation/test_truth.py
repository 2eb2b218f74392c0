"""What the scaler claims against what the simulated platform ran, over a week of 50 deployments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.simulation.driver import run_simulation
from scaler.simulation.report import build_report
from tests.simulation.fleet import degraded_events, fleet, simulation_input

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def week_with_events(tmp_path_factory: pytest.TempPathFactory) -> dict:
    seed = fleet(50)
    inputs = simulation_input(tmp_path_factory.mktemp("week"), seed, events=degraded_events(seed))
    return build_report(run_simulation(inputs))


def test_the_week_acts_and_saves(week_with_events: dict) -> None:
    """The week is not empty: schedules and health rules acted, and something was saved."""
    actions = [action for entry in week_with_events["deployments"] for action in entry["actions"]]
    reasons = {action["reason"].rsplit("(", 1)[-1] for action in actions}
    assert {"window:day)", "window:night)", "window:weekend)", "window:peak)", "health:shrink)"} <= reasons
    totals = week_with_events["totals"]["gpu_hours"]
    assert totals["realized"] < 0.8 * totals["baseline"]


def test_counted_agrees_with_realized_for_the_organization(week_with_events: dict) -> None:
    """The daemon's savings counters and the simulator's ledger agree within 0.5 % for the organization."""
    totals = week_with_events["totals"]["gpu_hours"]
    assert totals["counted"] == pytest.approx(totals["realized"], rel=0.005)


def test_counted_agrees_with_realized_for_each_deployment_that_saved(week_with_events: dict) -> None:
    """... and for each deployment with more than one GPU-hour saved."""
    checked = 0
    for entry in week_with_events["deployments"]:
        hours = entry["gpu_hours"]
        if hours["baseline"] - hours["realized"] > 1.0:
            checked += 1
            assert hours["counted"] == pytest.approx(hours["realized"], rel=0.005), entry["deployment_name"]
    assert checked >= 40


def test_the_difference_from_the_plan_is_put_down_to_health_rules_and_the_action_budget(week_with_events: dict) -> None:
    """The plan predicts no health rule and no action budget: every GPU-hour the week differs from it
    by is put down to one of them (50 deployments at one boundary exceed SCALER_MAX_ACTIONS_PER_CYCLE)."""
    difference = week_with_events["totals"]["difference"]
    assert difference["health_rules"] < -1.0
    assert difference["deferrals"] != 0.0
    assert (0.0, 0.0, 0.0) == (difference["refusals"], difference["start_up"], difference["other"])
    assert difference["gpu_hours"] == pytest.approx(difference["health_rules"] + difference["deferrals"], abs=1e-5)


def test_with_no_events_and_no_start_up_delay_realized_equals_planned(tmp_path: Path) -> None:
    """Zero start-up delay and no events: what the platform ran is what `scaler plan` projected, per deployment."""
    report = build_report(run_simulation(simulation_input(tmp_path, fleet(50, startup_seconds=0.0))))
    for entry in report["deployments"]:
        hours = entry["gpu_hours"]
        assert hours["planned"] == pytest.approx(hours["realized"], rel=0.005), entry["deployment_name"]
    totals = report["totals"]["gpu_hours"]
    assert totals["planned"] == pytest.approx(totals["realized"], rel=0.005)


def test_the_same_inputs_give_the_same_json_byte_for_byte(tmp_path: Path) -> None:
    """Two runs of the same inputs print the same document."""
    seed = fleet(20)
    first = json.dumps(build_report(run_simulation(simulation_input(tmp_path, seed, events=degraded_events(seed)))))
    second = json.dumps(build_report(run_simulation(simulation_input(tmp_path, seed, events=degraded_events(seed)))))
    assert first == second
