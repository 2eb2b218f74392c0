"""The simulator's ledger: GPU-seconds held by each deployment, from its own state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scaler.sim.clock import ManualClock
from scaler.sim.model import SeedDeployment, SeedDocument
from scaler.sim.state import SimState

START = datetime(2026, 12, 7, 8, tzinfo=UTC)
ID = "0b6df06d-c35c-4c90-ae22-290d3b7b7ed7"


def organization(*, running: bool = True) -> tuple[SimState, ManualClock]:
    clock = ManualClock(START)
    seed = SeedDeployment(
        deployment_id=ID,
        deployment_name="chat",
        model_repo_id=None,
        model_repo_name="chat",
        accelerator_count=4,
        min_replicas=2,
        max_replicas=3,
        running=running,
        status="DEPLOYED" if running else "SCALED_DOWN",
        startup_seconds=600,
    )
    return SimState.from_seed(SeedDocument(deployments=(seed,)), clock=clock), clock


def test_a_running_deployment_holds_its_floor_times_its_gpus() -> None:
    """Up from the start: min_replicas x accelerator_count GPUs every second."""
    state, _ = organization()
    assert 2 * 4 * 3600.0 == state.ledger.gpu_seconds(ID, START, START + timedelta(hours=1))


def test_a_start_counts_from_the_call_not_from_healthy() -> None:
    """Started at 09:00 with a 10-minute start-up: the GPUs count from 09:00, the first 10 minutes as starting."""
    state, _ = organization(running=False)
    deployment = state.deployments[ID]
    state.start(deployment, START + timedelta(hours=1))
    end = START + timedelta(hours=2)
    assert 8 * 3600.0 == state.ledger.gpu_seconds(ID, START, end)
    assert [(8, 600.0, True), (8, 3000.0, False)] == [
        piece for piece in state.ledger.pieces(ID, START, end) if piece[0]
    ]


def test_stops_scale_to_zero_and_new_bounds_change_what_is_held() -> None:
    """A stop holds nothing, a floor of 0 holds nothing, a floor of 1 holds one replica's GPUs."""
    state, _ = organization()
    deployment = state.deployments[ID]
    state.stop(deployment, START + timedelta(minutes=10))
    state.start(deployment, START + timedelta(minutes=20))
    state.set_bounds(deployment, 0, 3, START + timedelta(minutes=30))
    state.set_bounds(deployment, 1, 3, START + timedelta(minutes=40))
    minute = 60.0
    assert (8 * 10 + 0 + 8 * 10 + 0 + 4 * 20) * minute == state.ledger.gpu_seconds(ID, START, START + timedelta(hours=1))
    assert 4 == state.ledger.gpus_at(ID, START + timedelta(minutes=45))


def test_a_deletion_stops_the_bill() -> None:
    """Deleting holds no GPUs from the call on."""
    state, _ = organization()
    state.begin_deletion(state.deployments[ID], START + timedelta(minutes=30))
    assert 8 * 1800.0 == state.ledger.gpu_seconds(ID, START, START + timedelta(hours=1))


def test_the_next_timed_change_is_the_end_of_a_start_up() -> None:
    """While a deployment starts, the simulator's next change by itself is the end of its start-up."""
    state, _ = organization(running=False)
    state.start(state.deployments[ID], START)
    assert START + timedelta(minutes=10) == state.next_timed_change(START)
    assert state.next_timed_change(START + timedelta(minutes=10)) is None
