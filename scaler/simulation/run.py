"""The values of one simulation: what it runs (:class:`SimulationInput`) and what happened (:class:`SimulationRun`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scaler.policy import PolicySet
from scaler.policy.forecast import Forecast
from scaler.settings import Settings
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.ledger import GpuLedger
from scaler.sim.model import SeedDocument
from scaler.simulation.events import ScriptedEvent
from scaler.simulation.readiness import PeakWindow
from scaler.store import ActionRecord

#: The settings every simulation overrides: the simulator's address and identity, a throw-away store, and
#: no idle health polls (the health of deployments without health rules only feeds /status and metrics).
SIMULATION_SETTINGS: dict[str, Any] = {
    "health_idle_interval_seconds": 0.0,
    "api_url": "http://simulator",
    "api_token": DEFAULT_TOKEN,
    "api_token_file": None,
    "org_id": DEFAULT_ORG_ID,
    "state_url": "sqlite:///:memory:",
    "state_url_file": None,
}


@dataclass(frozen=True)
class SimulationInput:
    """What one simulation runs: an organization, policies, a period, events and the daemon's settings."""

    seed: SeedDocument
    policy_paths: tuple[Path, ...]
    start: datetime
    until: datetime
    settings: Settings
    events: tuple[ScriptedEvent, ...] = ()


@dataclass(frozen=True)
class SimulationRun:
    """What happened: the plan for the period, the actions, the ledger, the counters and peak readiness."""

    start: datetime
    until: datetime
    policy_set: PolicySet
    plan: Forecast
    actions: tuple[ActionRecord, ...]
    ledger: GpuLedger
    saved: dict[str, tuple[float, float]]
    """Each deployment's savings counters at the end: (GPU-seconds, dollars)."""
    peaks: tuple[PeakWindow, ...]
    healthy_at_start: dict[tuple[str, datetime], bool]
    """For each peak window (deployment id, nominal start): whether it was Healthy then."""
    requests: int
    """Platform requests the daemon sent."""

