"""The work the simulation leaves out (reconciling deployments nothing changed for, polling answers
that cannot have changed) changes nothing of what it reports, and is left out."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from scaler.simulation import driver, shortcuts
from scaler.simulation.answers import HealthChanges
from scaler.simulation.driver import run_simulation
from scaler.simulation.events import ScriptedEvent
from scaler.simulation.report import build_report
from scaler.simulation.run import SimulationInput
from tests.simulation.fleet import MONDAY, degraded_events, fleet, simulation_input

pytestmark = pytest.mark.usefixtures("restore_logging")


def inputs(tmp_path: Path, **settings: object) -> SimulationInput:
    """Four days of 24 deployments with every kind of event (health, start-up delay, quota and wallet),
    and so few actions a cycle that boundaries defer some."""
    seed = fleet(24)
    events = (
        *degraded_events(seed),
        ScriptedEvent(MONDAY + timedelta(hours=7, minutes=50), "startup", 900.0, seed.deployments[0].deployment_id),
        ScriptedEvent(MONDAY + timedelta(days=1, hours=6), "quota", {"nvidia-h100": 4}, None, timedelta(hours=4)),
        ScriptedEvent(MONDAY + timedelta(days=2, hours=5), "wallet", "blocked", None, timedelta(hours=3)),
    )
    ordered = tuple(sorted(events, key=lambda event: event.at))
    return simulation_input(tmp_path, seed, events=ordered, days=4, max_actions_per_cycle=3, **settings)


def without_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reconcile tick reconciles everything; every health poll reads every answer; every health tick
    after a change, and the last one before each decision, runs; the simulator's next change by itself
    is asked for at every jump."""
    monkeypatch.setattr(shortcuts, "worth_reconciling", lambda _daemon, _before: None)
    monkeypatch.setattr(driver._Simulation, "_next_timed_change", lambda self, now: self.sim.next_timed_change(now))
    monkeypatch.setattr(HealthChanges, "may_differ", lambda _self, _daemon, _now: True)
    full_poll = HealthChanges.to_poll
    monkeypatch.setattr(
        HealthChanges, "to_poll", lambda self, daemon, now, everything=False: full_poll(self, daemon, now, everything=True)
    )


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_report_is_the_same_byte_for_byte_without_the_shortcuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    """The same JSON with and without the shortcuts, for far fewer platform requests with them
    (in a dry run too, where the platform never changes and the daemon remembers what it would have applied)."""
    quick = run_simulation(inputs(tmp_path, dry_run=dry_run))
    with monkeypatch.context() as patched:
        without_shortcuts(patched)
        thorough = run_simulation(inputs(tmp_path, dry_run=dry_run))
    document = build_report(quick)
    assert json.dumps(build_report(thorough)) == json.dumps(document)
    results = {action["result"] for entry in document["deployments"] for action in entry["actions"]}
    assert ({"dry_run", "deferred"} if dry_run else {"success", "deferred", "blocked", "error"}) <= results
    assert quick.requests < thorough.requests / 2
