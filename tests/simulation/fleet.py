"""A generated organization and policy set for the simulation tests: schedules, lead times, health rules.

Every deployment runs at its policy's baseline when the scaler does not change it (and runs
at the start: one found stopped saves nothing of the scaler's until the scaler has started
and stopped it), so the daemon's counters (savings against the baseline) and the
simulator's ledger (what ran) can agree to the GPU-second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scaler.settings import load_settings
from scaler.sim.model import SeedDeployment, SeedDocument
from scaler.simulation.events import ScriptedEvent
from scaler.simulation.run import SIMULATION_SETTINGS, SimulationInput

#: Monday 7 December 2026, 00:00 UTC.
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)

POLICIES = """\
version: 1
policies:
  - name: office
    match: {names: ["office-*"]}
    timezone: Europe/Berlin
    baseline_replicas: 2
    default: stopped
    windows:
      - name: day
        between: "Mon-Fri 08:00-18:00"
        lead_time: 15m
        state: {min_replicas: 2, max_replicas: 3}
  - name: night
    match: {names: ["night-*"]}
    timezone: America/New_York
    default: running
    windows:
      - name: night
        between: "22:00-06:00"
        state: stopped
  - name: weekend
    match: {names: ["weekend-*"]}
    timezone: Asia/Kolkata
    default: running
    windows:
      - name: weekend
        between: "Sat,Sun 00:00-24:00"
        state: stopped
  - name: peak
    match: {names: ["peak-*"]}
    timezone: Europe/London
    baseline_replicas: 2
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - name: peak
        cron: "0 9 * * 1-5"
        duration: 8h
        lead_time: 20m
        state: {min_replicas: 2, max_replicas: 4}
    health:
      - name: shrink
        status: Degraded
        for: 10m
        state: {min_replicas: 1, max_replicas: 1}
        recover_for: 5m
        cooldown: 30m
"""

GROUPS = (("office", 2), ("night", 1), ("weekend", 1), ("peak", 2))
ACCELERATORS = (("nvidia-l4", 1), ("nvidia-h100", 4), ("nvidia-a10g", 2), ("nvidia-tesla-t4", 1))


def fleet(count: int = 50, *, startup_seconds: float | None = None) -> SeedDocument:
    """``count`` deployments spread over the policies, each at its policy's baseline, with varied
    accelerators and start-up delays (``startup_seconds`` for all when given)."""
    deployments = []
    for number in range(count):
        group, baseline = GROUPS[number % len(GROUPS)]
        accelerator, gpus = ACCELERATORS[(number // len(GROUPS)) % len(ACCELERATORS)]
        deployments.append(
            SeedDeployment(
                deployment_id=f"00000000-0000-4000-8000-{number:012d}",
                deployment_name=f"{group}-{number:03d}",
                model_repo_id=None,
                model_repo_name=f"model-{number}",
                accelerator_type=(accelerator,),
                accelerator_count=gpus,
                status="DEPLOYED",
                min_replicas=baseline,
                max_replicas=max(baseline, 2) + 1,
                startup_seconds=startup_seconds if startup_seconds is not None else 30.0 + 37.0 * (number % 7),
            )
        )
    return SeedDocument(deployments=tuple(deployments))


def degraded_events(seed: SeedDocument) -> tuple[ScriptedEvent, ...]:
    """Every peak deployment turns Degraded once during the week, for 40 minutes, at a different time."""
    events = []
    for index, deployment in enumerate(item for item in seed.deployments if item.deployment_name.startswith("peak-")):
        at = MONDAY + timedelta(days=index % 7, hours=3 + (index * 5) % 18, minutes=(index * 7) % 60, seconds=13)
        events.append(ScriptedEvent(at, "health", "Degraded", deployment.deployment_id, timedelta(minutes=40)))
    return tuple(sorted(events, key=lambda event: event.at))


def simulation_input(
    tmp_path: Path,
    seed: SeedDocument,
    *,
    policies: str = POLICIES,
    events: tuple[ScriptedEvent, ...] = (),
    days: int = 7,
    **settings: object,
) -> SimulationInput:
    """The input of a simulation from Monday for ``days`` days, the policies written under ``tmp_path``."""
    path = tmp_path / "policies.yaml"
    path.write_text(policies)
    return SimulationInput(
        seed=seed,
        policy_paths=(path,),
        start=MONDAY,
        until=MONDAY + timedelta(days=days),
        settings=load_settings(**{**SIMULATION_SETTINGS, **settings}),
        events=events,
    )
