"""The cycle's memory on its own: the dry run's overlay (DryRunOverlay), the memory merged once after the
calls (Memory.after), the hold of health rules on stale health (HealthHold), decision instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from structlog.testing import capture_logs

from scaler.daemon.clock import DecisionInstants
from scaler.daemon.calls import Calls, Step
from scaler.daemon.decide import Decision
from scaler.daemon.dry_run import DryRunOverlay
from scaler.daemon.execution import Execution
from scaler.daemon.health_hold import HealthHold
from scaler.daemon.memory import Memory
from scaler.simplismart.models import Deployment
from scaler.store import AppliedState, Backoff, HealthTrack

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
LLAMA = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")
WHISPER = UUID("5a1f1a3e-4b8c-4d2e-9f10-2b3c4d5e6f70")
DEPLOYMENT = Deployment.model_validate(
    {"deployment_id": str(LLAMA), "deployment_name": "llama", "status": "DEPLOYED", "accelerator_type": ["nvidia-l4"]}
)


def applied(kind: str, hours_ago: int = 1) -> AppliedState:
    return AppliedState(kind=kind, applied_at=NOW - timedelta(hours=hours_ago))  # type: ignore[arg-type]


def memory(applied_states: dict[UUID, AppliedState], backoffs: dict[UUID, Backoff] | None = None) -> Memory:
    return Memory(
        applied=applied_states, tracks={}, rules={}, exceptions=[], backoffs=backoffs or {}, exceptions_revision=(0, 0)
    )


def plan(kind: str, source: str, action: str) -> Calls:
    return Calls(
        deployment=DEPLOYMENT,
        kind=kind,  # type: ignore[arg-type]
        steps=(Step(action),),  # type: ignore[arg-type]
        target=None,
        previous=None,
        policy="office",
        source=source,
        reason="test",
        restart_rule="unhealthy" if kind == "restart" else None,
    )


def test_a_real_run_sends_and_shows_the_store_as_it_is() -> None:
    """Without a dry run the overlay lays nothing over the store, and the store holds what was applied."""
    overlay = DryRunOverlay(dry_run=False)
    stored = {LLAMA: applied("running")}
    assert (True, stored) == (overlay.sends, overlay.applied(stored))
    assert {LLAMA: applied("stopped", 0)} == overlay.stored(stored, {LLAMA: applied("stopped", 0)})
    assert False is overlay.keep_rules([(LLAMA, "office", "restart", {"restarts": []})])


def test_a_dry_run_keeps_what_it_applied_over_the_store_and_writes_nothing() -> None:
    """In a dry run what it applied and the rules it remembered are shown over the store's, never stored."""
    overlay = DryRunOverlay(dry_run=True)
    overlay.note_applied(LLAMA, applied("stopped", 0))
    stored = {LLAMA: applied("running"), WHISPER: applied("running")}
    assert (False, True) == (overlay.sends, overlay.dry_run)
    assert {LLAMA: applied("stopped", 0), WHISPER: applied("running")} == overlay.applied(stored)
    assert stored == overlay.stored(stored, {LLAMA: applied("stopped", 0)})
    assert True is overlay.keep_rules([(LLAMA, "office", "restart", {"kept": 1})])
    assert {("office", "restart"): {"kept": 1}, ("office", "other"): 2} == overlay.rules(
        LLAMA, {("office", "restart"): {"kept": 0}, ("office", "other"): 2}
    )
    overlay.forget(LLAMA)
    assert stored == overlay.applied(stored)


def test_after_the_calls_the_memory_is_merged_once() -> None:
    """New applied states are laid over, unknown outcomes forget theirs, backoffs set and cleared."""
    backoff = Backoff(deployment_id=WHISPER, until=NOW + timedelta(minutes=5), failures=1, reason="quota")
    before = memory({LLAMA: applied("running"), WHISPER: applied("running")}, {WHISPER: backoff})
    overlay = DryRunOverlay(dry_run=False)
    execution = Execution(
        applied={LLAMA: applied("stopped", 0)}, state_unknown={WHISPER}, backoffs={WHISPER: None, LLAMA: backoff}
    )
    after = before.compared_with(overlay).after(execution, overlay)
    assert {LLAMA: applied("stopped", 0)} == after.applied == after.stored_applied
    assert {LLAMA: backoff} == after.backoffs


def test_after_a_dry_run_decisions_see_what_it_applied_and_savings_do_not() -> None:
    """A dry run's applied states are compared with, but the store (and so savings) never holds them."""
    before = memory({LLAMA: applied("running")})
    overlay = DryRunOverlay(dry_run=True)
    compared = before.compared_with(overlay)
    overlay.note_applied(LLAMA, applied("stopped", 0))
    after = compared.after(Execution(applied={LLAMA: applied("stopped", 0)}), overlay)
    assert {LLAMA: applied("stopped", 0)} == after.applied
    assert {LLAMA: applied("running")} == after.stored_applied


def test_health_rules_wait_for_fresh_health_and_the_rest_goes() -> None:
    """A restart waits while the health is older than the maximum age; a window's stop does not; said once."""
    hold = HealthHold(timedelta(seconds=60))
    restart, stop = plan("restart", "health:unhealthy", "restart"), plan("change", "window:night", "stop")
    stale = HealthTrack(value="Unhealthy", since=NOW - timedelta(hours=1), last_observed=NOW - timedelta(seconds=61))
    with capture_logs() as logs:
        first = hold.apply(DEPLOYMENT, Decision(plans=(restart, stop)), stale, NOW)
        again = hold.apply(DEPLOYMENT, Decision(plans=(restart,)), stale, NOW)
    assert ((stop,), {LLAMA}) == (first.plans, hold.held)
    assert "health rule unhealthy waits: health last observed at 2026-03-02T09:58:59Z" == again.skip
    assert ["health_action_held"] == [line["event"] for line in logs]
    fresh = HealthTrack(value="Unhealthy", since=stale.since, last_observed=NOW - timedelta(seconds=60))
    assert ((restart,), set()) == (hold.apply(DEPLOYMENT, Decision(plans=(restart,)), fresh, NOW).plans, hold.held)


def test_no_cycle_decides_at_an_instant_older_than_the_last() -> None:
    """An instant older than the last decision stands the cycle down; the next one decides again."""
    readings = iter([NOW, NOW - timedelta(seconds=1), NOW + timedelta(seconds=1)])
    instants = DecisionInstants(lambda: next(readings))
    with capture_logs() as logs:
        assert [NOW, None, NOW + timedelta(seconds=1)] == [instants.next() for _ in range(3)]
    assert ["decision_stood_down"] == [line["event"] for line in logs]
