"""Which actions begin a start-up, which end or abandon it, and what is recorded (StartupLearner on its own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prometheus_client import CollectorRegistry

from scaler.daemon.execution import Execution
from scaler.daemon.journal import ActionReport
from scaler.daemon.startups import StartupLearner
from scaler.metrics import Metrics
from scaler.policy.loader import load_policy_text
from scaler.simplismart.models import Deployment, Pods
from scaler.store import AppliedState, HealthTrack, open_store

NOW = datetime(2026, 3, 2, 8, 45, tzinfo=UTC)
ID = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")
POLICIES = load_policy_text(
    """
version: 1
policies:
  - name: peak
    match: {names: [llama]}
    default: {min_replicas: 0, max_replicas: 2}
    windows:
      - name: peak
        cron: "0 9 * * *"
        duration: 1h
        lead_time: auto
        state: {min_replicas: 1, max_replicas: 2}
"""
)
DEPLOYMENT = Deployment.model_validate(
    {"deployment_id": str(ID), "deployment_name": "llama", "status": "DEPLOYED", "accelerator_type": ["nvidia-h100"]}
)


@pytest.fixture
def learner(tmp_path: Path):
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        registry = CollectorRegistry()
        learner = StartupLearner(store=store, metrics=Metrics(registry))
        learner.registry = registry  # type: ignore[attr-defined]
        yield learner


def bounds(low: int) -> AppliedState:
    return AppliedState(kind="bounds", applied_at=NOW, min_replicas=low, max_replicas=2)


def executed(action: str, result: str = "success", applied: AppliedState | None = None) -> Execution:
    execution = Execution(
        reports=[ActionReport(ID, "llama", action, result, "peak", "peak", "window", NOW)],
    )
    if applied is not None:
        execution.applied[ID] = applied
    return execution


def healthy(at: datetime) -> dict[UUID, HealthTrack]:
    return {ID: HealthTrack("Healthy", at, at)}


def test_raising_the_floor_from_zero_begins_a_start_up(learner: StartupLearner):
    """update_replicas from min 0 to min 1 is a start-up (its deployment watched); from min 1 to min 2 is not."""
    raise_to_two = executed("update_replicas min=2 max=2", applied=bounds(2))
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {ID: bounds(1)}, raise_to_two)
    assert {} == learner.started
    raise_from_zero = executed("update_replicas min=1 max=2", applied=bounds(1))
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {ID: bounds(0)}, raise_from_zero)
    assert ({ID: NOW}, {ID}) == (learner.started, learner.watching())


async def test_healthy_with_every_pod_ready_ends_it_and_records_its_length(learner: StartupLearner):
    """Healthy with a pod not ready yet does not end it; Healthy with every pod ready 17m30s later does."""
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {}, executed("start"))
    await learner.observe(healthy(NOW + timedelta(minutes=10)), {ID: Pods(ready=0, not_ready=1)}, {ID: DEPLOYMENT})
    assert ID in learner.started
    ready_at = NOW + timedelta(minutes=17, seconds=30)
    await learner.observe(healthy(ready_at), {ID: Pods(ready=1, not_ready=0)}, {ID: DEPLOYMENT})
    assert ({}, {ID: [1050.0]}) == (learner.started, learner.startups)
    assert 1.0 == learner.registry.get_sample_value(  # type: ignore[attr-defined]
        "scaler_deployment_startup_seconds_bucket", {"accelerator": "nvidia-h100", "le": "1200.0"}
    )


async def test_a_stop_or_a_failed_start_begins_nothing(learner: StartupLearner):
    """A stop abandons a start-up in progress; a start that failed begins none."""
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {}, executed("start"))
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {}, executed("stop"))
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {}, executed("start", result="error"))
    await learner.observe(healthy(NOW + timedelta(minutes=5)), {}, {ID: DEPLOYMENT})
    assert ({}, {}) == (learner.started, learner.startups)


async def test_a_start_up_never_seen_healthy_is_abandoned_after_six_hours(learner: StartupLearner):
    """Still Degraded after six hours: forgotten, nothing recorded."""
    learner.note_actions(POLICIES, {ID: DEPLOYMENT}, {}, executed("start"))
    late = NOW + timedelta(hours=6, minutes=1)
    await learner.observe({ID: HealthTrack("Degraded", late, late)}, {}, {ID: DEPLOYMENT})
    assert ({}, {}) == (learner.started, learner.startups)
