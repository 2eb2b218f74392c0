"""Health rules as a state machine: for, recover_for, cooldown, one restart per episode, max_per_day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scaler.policy.health_rules import HealthObservation, HealthRuleMemory, evaluate_rule, record_restart
from scaler.simplismart.models import HealthStatus

from .helpers import policy, utc

DEGRADED = HealthStatus.DEGRADED
UNHEALTHY = HealthStatus.UNHEALTHY
HEALTHY = HealthStatus.HEALTHY
PROGRESSING = HealthStatus.PROGRESSING


@pytest.fixture(scope="module")
def rules():
    p = policy(
        """
        name: p
        match: {names: ["*"]}
        default: {min_replicas: 2, max_replicas: 4}
        health:
          - name: degraded-shrink
            status: Degraded
            for: 10m
            state: {min_replicas: 1, max_replicas: 1}
            recover_for: 5m
            cooldown: 30m
          - name: unhealthy-restart
            status: Unhealthy
            for: 15m
            action: restart
            cooldown: 1h
            max_per_day: 3
        """
    )
    return {rule.label: rule for rule in p.health}


def seen(value: HealthStatus, since: str) -> HealthObservation:
    return HealthObservation(value, utc(since))


def test_state_rule_waits_for_its_hold_time(rules):
    """Degraded for 5 of 10 minutes: not active yet, and the answer changes at 10 minutes."""
    outcome = evaluate_rule(rules["degraded-shrink"], None, seen(DEGRADED, "2026-03-02T10:00"), utc("2026-03-02T10:05"))
    assert (False, utc("2026-03-02T10:10")) == (outcome.active, outcome.next_change)


def test_state_rule_becomes_active_when_held_for_its_time(rules):
    """Degraded held 10 minutes: the rule is active since the instant the hold completed."""
    outcome = evaluate_rule(rules["degraded-shrink"], None, seen(DEGRADED, "2026-03-02T10:00"), utc("2026-03-02T10:12"))
    assert (True, utc("2026-03-02T10:10")) == (outcome.active, outcome.memory.active_since)


def test_active_rule_stays_active_through_other_unhealthy_values(rules):
    """Once active, the rule holds while health is anything but Healthy."""
    memory = HealthRuleMemory(active_since=utc("2026-03-02T10:10"))
    outcome = evaluate_rule(rules["degraded-shrink"], memory, seen(PROGRESSING, "2026-03-02T10:20"), utc("2026-03-02T11:00"))
    assert (True, None) == (outcome.active, outcome.next_change)


def test_active_rule_holds_until_healthy_for_recover_for(rules):
    """Healthy for 2 of 5 minutes: still active, letting go at 5 minutes."""
    memory = HealthRuleMemory(active_since=utc("2026-03-02T10:10"))
    outcome = evaluate_rule(rules["degraded-shrink"], memory, seen(HEALTHY, "2026-03-02T10:18"), utc("2026-03-02T10:20"))
    assert (True, utc("2026-03-02T10:23")) == (outcome.active, outcome.next_change)


def test_rule_lets_go_after_recover_for_and_remembers_when(rules):
    """Healthy for 5 minutes: the rule lets go at that instant and the cooldown starts there."""
    memory = HealthRuleMemory(active_since=utc("2026-03-02T10:10"))
    outcome = evaluate_rule(rules["degraded-shrink"], memory, seen(HEALTHY, "2026-03-02T10:18"), utc("2026-03-02T10:30"))
    assert (False, None, utc("2026-03-02T10:23")) == (outcome.active, outcome.memory.active_since, outcome.memory.released_at)


def test_cooldown_delays_firing_again(rules):
    """Degraded again 2 minutes after letting go: the rule waits for the 30-minute cooldown, not just 10 minutes."""
    memory = HealthRuleMemory(released_at=utc("2026-03-02T10:23"))
    rule = rules["degraded-shrink"]
    early = evaluate_rule(rule, memory, seen(DEGRADED, "2026-03-02T10:25"), utc("2026-03-02T10:40"))
    assert (False, utc("2026-03-02T10:53")) == (early.active, early.next_change)
    later = evaluate_rule(rule, memory, seen(DEGRADED, "2026-03-02T10:25"), utc("2026-03-02T10:53"))
    assert (True, utc("2026-03-02T10:53")) == (later.active, later.memory.active_since)


def test_no_observation_keeps_an_active_rule_active(rules):
    """Without any health observation an active rule stays active and an inactive one stays inactive."""
    rule = rules["degraded-shrink"]
    assert evaluate_rule(rule, HealthRuleMemory(active_since=utc("2026-03-02T10:10")), None, utc("2026-03-02T12:00")).active
    assert not evaluate_rule(rule, None, None, utc("2026-03-02T12:00")).active


def test_restart_is_due_once_held_for_its_time(rules):
    """Unhealthy for 15 minutes: a restart is due; before that, it is due at 15 minutes."""
    rule = rules["unhealthy-restart"]
    early = evaluate_rule(rule, None, seen(UNHEALTHY, "2026-03-02T10:00"), utc("2026-03-02T10:10"))
    assert (False, utc("2026-03-02T10:15")) == (early.restart_due, early.next_change)
    assert evaluate_rule(rule, None, seen(UNHEALTHY, "2026-03-02T10:00"), utc("2026-03-02T10:15")).restart_due


def test_restart_fires_once_per_episode(rules):
    """After the restart is recorded, the same continuous Unhealthy episode does not restart again."""
    rule = rules["unhealthy-restart"]
    outcome = evaluate_rule(rule, None, seen(UNHEALTHY, "2026-03-02T10:00"), utc("2026-03-02T10:15"))
    memory = record_restart(outcome.memory, utc("2026-03-02T10:15"))
    again = evaluate_rule(rule, memory, seen(UNHEALTHY, "2026-03-02T10:00"), utc("2026-03-02T13:00"))
    assert (False, None) == (again.restart_due, again.next_change)


def test_new_episode_waits_for_the_cooldown(rules):
    """A new Unhealthy episode right after a restart is due only when the 1h cooldown has run."""
    rule = rules["unhealthy-restart"]
    memory = HealthRuleMemory(restarts=(utc("2026-03-02T10:15"),), fired_episode=utc("2026-03-02T10:00"))
    outcome = evaluate_rule(rule, memory, seen(UNHEALTHY, "2026-03-02T10:20"), utc("2026-03-02T10:40"))
    assert (False, utc("2026-03-02T11:15")) == (outcome.restart_due, outcome.next_change)


def test_max_per_day_is_a_rolling_24_hours(rules):
    """Three restarts at 00:00, 02:00 and 04:00: a fourth waits until 00:00 the next day."""
    rule = rules["unhealthy-restart"]
    memory = HealthRuleMemory(restarts=(utc("2026-03-02T00:00"), utc("2026-03-02T02:00"), utc("2026-03-02T04:00")))
    blocked = evaluate_rule(rule, memory, seen(UNHEALTHY, "2026-03-02T05:00"), utc("2026-03-02T06:00"))
    assert (False, utc("2026-03-03T00:00")) == (blocked.restart_due, blocked.next_change)
    freed = evaluate_rule(rule, memory, seen(UNHEALTHY, "2026-03-02T05:00"), utc("2026-03-03T00:00"))
    assert freed.restart_due


def test_old_restarts_are_forgotten(rules):
    """Restarts older than 24 hours (and the cooldown) leave the memory."""
    rule = rules["unhealthy-restart"]
    memory = HealthRuleMemory(restarts=(utc("2026-03-01T00:00"), utc("2026-03-02T09:00")))
    outcome = evaluate_rule(rule, memory, seen(HEALTHY, "2026-03-02T09:30"), utc("2026-03-02T10:00"))
    assert (utc("2026-03-02T09:00"),) == outcome.memory.restarts


def test_memory_round_trips_through_json():
    """to_json/from_json keep every field, instants included."""
    memory = HealthRuleMemory(
        active_since=utc("2026-03-02T10:10"),
        released_at=utc("2026-03-02T09:00"),
        episode_since=utc("2026-03-02T10:00"),
        fired_episode=utc("2026-03-02T08:00"),
        restarts=(utc("2026-03-02T08:15"), utc("2026-03-02T08:15") + timedelta(hours=2)),
    )
    assert memory == HealthRuleMemory.from_json(memory.to_json())


def test_memory_from_json_rejects_naive_instants():
    """A stored instant without an offset is refused."""
    with pytest.raises(ValueError):
        HealthRuleMemory.from_json('{"active_since": "2026-03-02T10:10"}')


def _walk(rule, steps):
    """Feed (now, value, since) observations in order, persisting memory; return (now, active, restart_due) per step."""
    memory = None
    answers = []
    for now, value, since in steps:
        outcome = evaluate_rule(rule, memory, seen(value, since), utc(now))
        memory = outcome.memory
        if outcome.restart_due:
            memory = record_restart(memory, utc(now))
        answers.append((now[-5:], outcome.active, outcome.restart_due))
    return answers


def test_state_rule_timeline_of_the_docs(rules):
    """The Degraded timeline documented in docs/policies.md (Health rules), minute by minute."""
    day = "2026-03-02T"
    steps = [
        (day + "10:00", DEGRADED, day + "10:00"),
        (day + "10:10", DEGRADED, day + "10:00"),
        (day + "10:14", UNHEALTHY, day + "10:14"),
        (day + "10:18", HEALTHY, day + "10:18"),
        (day + "10:20", DEGRADED, day + "10:20"),
        (day + "10:26", HEALTHY, day + "10:26"),
        (day + "10:31", HEALTHY, day + "10:26"),
        (day + "10:35", DEGRADED, day + "10:35"),
        (day + "10:45", DEGRADED, day + "10:35"),
        (day + "11:01", DEGRADED, day + "10:35"),
    ]
    assert [
        ("10:00", False, False),
        ("10:10", True, False),
        ("10:14", True, False),
        ("10:18", True, False),
        ("10:20", True, False),
        ("10:26", True, False),
        ("10:31", False, False),
        ("10:35", False, False),
        ("10:45", False, False),
        ("11:01", True, False),
    ] == _walk(rules["degraded-shrink"], steps)


def test_restart_rule_timeline_of_the_docs(rules):
    """The Unhealthy timeline documented in docs/policies.md (Health rules): restart at 10:15, then not before 11:15."""
    day = "2026-03-02T"
    steps = [
        (day + "10:00", UNHEALTHY, day + "10:00"),
        (day + "10:15", UNHEALTHY, day + "10:00"),
        (day + "10:16", PROGRESSING, day + "10:16"),
        (day + "10:20", UNHEALTHY, day + "10:20"),
        (day + "10:35", UNHEALTHY, day + "10:20"),
        (day + "11:15", UNHEALTHY, day + "10:20"),
        (day + "11:30", UNHEALTHY, day + "10:20"),
    ]
    assert [
        ("10:00", False, False),
        ("10:15", False, True),
        ("10:16", False, False),
        ("10:20", False, False),
        ("10:35", False, False),
        ("11:15", False, True),
        ("11:30", False, False),
    ] == _walk(rules["unhealthy-restart"], steps)
