"""Resolution of one deployment at one instant: suspension, priority, conflicts, health over windows, next change."""

from __future__ import annotations

from datetime import timedelta

from scaler.policy.health_rules import HealthObservation, HealthRuleMemory
from scaler.policy.model import DesiredState
from scaler.policy.resolve import Override, resolve_desired_state
from scaler.simplismart.models import HealthStatus

from .helpers import deployment, policy_set, utc

POLICIES = policy_set(
    """
    - name: office
      match: {names: ["llama-*"], exclude_names: ["*-canary"]}
      default: stopped
      enforce: true
      windows:
        - name: day
          between: "Mon-Fri 09:00-17:00"
          lead_time: 15m
          state: {min_replicas: 2, max_replicas: 4}
      health:
        - name: degraded-shrink
          status: Degraded
          for: 10m
          state: {min_replicas: 1, max_replicas: 1}
        - name: unhealthy-restart
          status: Unhealthy
          for: 15m
          action: restart
      expire:
        after: 7d
    - name: big
      priority: 10
      match: {names: ["llama-70b"]}
      default: running
    - name: tie-a
      match: {names: ["twin"]}
      default: stopped
    - name: tie-b
      match: {names: ["twin"]}
      default: running
    """
)
LLAMA = deployment("llama-8b")
MONDAY_NOON = utc("2026-03-02T12:00")


def test_window_decides_with_its_source():
    """In office hours the window's state applies, named window:day."""
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON)
    assert ("office", DesiredState.bounds(2, 4), "window:day", True) == (
        resolution.policy, resolution.desired, resolution.source, resolution.enforce
    )


def test_next_change_is_the_window_closing():
    """The next change of an open window without health trouble is its closing."""
    assert utc("2026-03-02T17:00") == resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON).next_change


def test_default_applies_outside_windows_and_next_change_includes_lead_time():
    """At night the default applies; the next change is the opening minus the lead time."""
    resolution = resolve_desired_state(POLICIES, LLAMA, now=utc("2026-03-02T22:00"))
    assert (DesiredState.stopped(), "default", utc("2026-03-03T08:45")) == (
        resolution.desired, resolution.source, resolution.next_change
    )


def test_active_health_rule_overrides_the_window():
    """Degraded held 10 minutes in office hours: the health rule's state wins."""
    health = HealthObservation(HealthStatus.DEGRADED, utc("2026-03-02T11:40"))
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON, health=health)
    assert (DesiredState.bounds(1, 1), "health:degraded-shrink") == (resolution.desired, resolution.source)
    assert utc("2026-03-02T11:50") == resolution.memory["degraded-shrink"].active_since


def test_pending_health_rule_brings_the_next_change_forward():
    """Degraded for 5 minutes: the next change is when the hold completes, before the window closes."""
    health = HealthObservation(HealthStatus.DEGRADED, utc("2026-03-02T11:55"))
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON, health=health)
    assert ("window:day", utc("2026-03-02T12:05")) == (resolution.source, resolution.next_change)


def test_restart_due_names_the_rule_and_memory_is_returned():
    """Unhealthy held 15 minutes: restart_due names the rule; the memory of every rule comes back."""
    health = HealthObservation(HealthStatus.UNHEALTHY, utc("2026-03-02T11:45"))
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON, health=health)
    assert "unhealthy-restart" == resolution.restart_due
    assert {"degraded-shrink", "unhealthy-restart"} == set(resolution.memory)
    assert utc("2026-03-02T11:45") == resolution.memory["unhealthy-restart"].episode_since


def test_no_restart_while_the_deployment_should_be_stopped():
    """A restart rule does not restart a deployment whose desired state is stopped."""
    health = HealthObservation(HealthStatus.UNHEALTHY, utc("2026-03-02T20:00"))
    assert resolve_desired_state(POLICIES, LLAMA, now=utc("2026-03-02T22:00"), health=health).restart_due is None


def test_rule_memory_is_used():
    """An active rule remembered across a restart of the daemon keeps deciding."""
    memory = {"degraded-shrink": HealthRuleMemory(active_since=utc("2026-03-02T11:00"))}
    health = HealthObservation(HealthStatus.PROGRESSING, utc("2026-03-02T11:30"))
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON, health=health, rule_memory=memory)
    assert ("health:degraded-shrink", None) == (resolution.source, resolution.next_change)


def test_suspended_deployment_is_left_alone_until_the_suspension_ends():
    """A suspension in force: leave alone, source suspended, next change at its end."""
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON, suspended_until=utc("2026-03-02T13:00"))
    assert ("office", None, "suspended", utc("2026-03-02T13:00")) == (
        resolution.policy, resolution.desired, resolution.source, resolution.next_change
    )


def test_ended_suspension_is_ignored():
    """A suspension that ended is no suspension."""
    resolution = resolve_desired_state(POLICIES, LLAMA, now=MONDAY_NOON, suspended_until=utc("2026-03-02T11:00"))
    assert "window:day" == resolution.source


def test_excluded_deployment_is_not_governed():
    """exclude_names keeps a deployment out of the policy: no policy, left alone, source none."""
    resolution = resolve_desired_state(POLICIES, deployment("llama-8b-canary"), now=MONDAY_NOON)
    assert (None, (), None, "none") == (resolution.policy, resolution.conflict, resolution.desired, resolution.source)


def test_higher_priority_wins():
    """Two policies select llama-70b; the one with priority 10 governs it."""
    resolution = resolve_desired_state(POLICIES, deployment("llama-70b"), now=MONDAY_NOON)
    assert ("big", DesiredState.running(), "default") == (resolution.policy, resolution.desired, resolution.source)


def test_tie_at_the_highest_priority_is_a_conflict():
    """Two policies at the same priority: conflict reported, deployment left alone."""
    resolution = resolve_desired_state(POLICIES, deployment("twin"), now=MONDAY_NOON)
    assert (None, ("tie-a", "tie-b"), None, "none") == (
        resolution.policy, resolution.conflict, resolution.desired, resolution.source
    )


def test_expiry_is_first_seen_plus_after_and_a_next_change():
    """expire after 7d: expire_at is seven days after first sight and bounds the next change."""
    resolution = resolve_desired_state(
        POLICIES, LLAMA, now=utc("2026-03-07T12:00"), first_seen=utc("2026-03-01T10:00")
    )
    assert utc("2026-03-08T10:00") == resolution.expire_at
    assert utc("2026-03-08T10:00") == resolution.next_change  # Saturday: no window before Monday


GRACE = policy_set(
    """
    - name: office
      match: {names: ["llama-*"]}
      default: stopped
      windows:
        - name: day
          between: "Mon-Fri 09:00-17:00"
          state: running
    - name: trial
      match: {names: ["trial-*"]}
      grace_period: 1h
      default: stopped
    - name: instant
      match: {names: ["instant-*"]}
      grace_period: 0s
      default: stopped
    """
)


def test_a_new_deployment_is_left_alone_until_its_grace_period_ends():
    """New, first seen at 20:00 with a 15-minute default grace: left alone (source grace) until 20:15,
    which is the next change; from 20:15 on the policy decides."""
    arguments = {"first_seen": utc("2026-03-02T20:00"), "new": True, "default_grace": timedelta(minutes=15)}
    during = resolve_desired_state(GRACE, LLAMA, now=utc("2026-03-02T20:10"), **arguments)
    after = resolve_desired_state(GRACE, LLAMA, now=utc("2026-03-02T20:15"), **arguments)
    assert ("office", None, "grace", utc("2026-03-02T20:15"), utc("2026-03-02T20:15")) == (
        during.policy, during.desired, during.source, during.grace_until, during.next_change
    )
    assert (DesiredState.stopped(), "default", None) == (after.desired, after.source, after.grace_until)


def test_a_known_deployment_has_no_grace_period():
    """Not new (seen at the store's first inventory): the policy decides at once."""
    resolution = resolve_desired_state(
        GRACE, LLAMA, now=utc("2026-03-02T20:01"), first_seen=utc("2026-03-02T20:00"),
        default_grace=timedelta(minutes=15),
    )
    assert (DesiredState.stopped(), "default") == (resolution.desired, resolution.source)


def test_a_policy_grace_period_overrides_the_default():
    """``grace_period: 1h`` replaces the default; ``0s`` disables the grace period."""
    arguments = {"first_seen": utc("2026-03-02T20:00"), "new": True, "default_grace": timedelta(minutes=15)}
    trial = resolve_desired_state(GRACE, deployment("trial-llm"), now=utc("2026-03-02T20:30"), **arguments)
    instant = resolve_desired_state(GRACE, deployment("instant-llm"), now=utc("2026-03-02T20:00"), **arguments)
    assert (utc("2026-03-02T21:00"), "default") == (trial.grace_until, instant.source)


def test_an_override_names_its_author_and_reason_in_its_cause():
    """Under an override the cause an action names is its source, who made it and why; without one
    the cause is the source alone."""
    override = Override(
        state=DesiredState.running(), until=utc("2026-03-02T23:00"), source="override:3f9c", by="alice",
        reason="eval tonight",
    )  # fmt: skip
    overridden = resolve_desired_state(POLICIES, LLAMA, now=utc("2026-03-02T22:00"), override=override)
    plain = resolve_desired_state(POLICIES, LLAMA, now=utc("2026-03-02T22:00"))
    assert ("override:3f9c", "override:3f9c by alice: eval tonight") == (overridden.source, overridden.cause)
    assert ("default", "default") == (plain.source, plain.cause)
