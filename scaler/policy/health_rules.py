"""Health rules as a pure state machine over observations and a small persisted memory.

The daemon tracks each deployment's health as a :class:`HealthObservation` (the value
and the instant since which it has held continuously) and keeps one
:class:`HealthRuleMemory` per (deployment, policy, rule). :func:`evaluate_rule` takes
both and the instant, and returns the updated memory, whether the rule is in force,
whether a restart is due, and when the answer could next change by itself.

A rule with a ``state``:
- becomes active once its ``status`` has held for ``for`` (and the ``cooldown`` since it
  last let go has run out); it is active from that instant;
- stays active whatever the health does, until ``Healthy`` has held for ``recover_for``;
  it lets go at that instant and the ``cooldown`` starts.

A rule with ``action: restart``:
- is due once its ``status`` has held for ``for``; one restart per episode (an episode is
  one continuous hold of the status, identified by its ``since``);
- waits while the ``cooldown`` since its last restart runs, and while ``max_per_day``
  restarts already happened in the last 24 hours (a rolling window: a restart at 10:00
  frees its slot at 10:00 the next day);
- is recorded by the daemon with :func:`record_restart` once the restart was performed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from scaler.policy.model import HealthRule
from scaler.policy.zones import require_aware
from scaler.simplismart.models import HealthStatus

#: The rolling period of ``max_per_day``.
RESTART_PERIOD = timedelta(hours=24)


@dataclass(frozen=True)
class HealthObservation:
    """A deployment's health ``value``, held continuously since ``since`` (an aware instant)."""

    value: HealthStatus
    since: datetime


@dataclass(frozen=True)
class HealthRuleMemory:
    """What one health rule remembers about one deployment across instants and restarts.

    - ``active_since``: when the rule (with a state) took over; ``None`` when not active.
    - ``released_at``: when it last let go; its ``cooldown`` runs from there.
    - ``episode_since``: for a restart rule, the ``since`` of the current hold of its status.
    - ``fired_episode``: the episode a restart was recorded for (one restart per episode).
    - ``restarts``: instants of recent restarts (kept for 24 hours or the cooldown, whichever is longer).
    """

    active_since: datetime | None = None
    released_at: datetime | None = None
    episode_since: datetime | None = None
    fired_episode: datetime | None = None
    restarts: tuple[datetime, ...] = ()

    def to_json(self) -> str:
        """Return the memory as a JSON object text (instants in ISO 8601 with offset)."""
        def instant(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return json.dumps(
            {
                "active_since": instant(self.active_since),
                "released_at": instant(self.released_at),
                "episode_since": instant(self.episode_since),
                "fired_episode": instant(self.fired_episode),
                "restarts": [restart.isoformat() for restart in self.restarts],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any]) -> HealthRuleMemory:
        """Return the memory written by :meth:`to_json` (text or the decoded object).

        Raises ``ValueError`` when the data is not such a memory.
        """
        loaded = json.loads(data) if isinstance(data, str) else data
        if not isinstance(loaded, Mapping):
            raise ValueError("health rule memory must be a JSON object")

        def instant(key: str) -> datetime | None:
            value = loaded.get(key)
            return None if value is None else require_aware(datetime.fromisoformat(value), key)

        return cls(
            active_since=instant("active_since"),
            released_at=instant("released_at"),
            episode_since=instant("episode_since"),
            fired_episode=instant("fired_episode"),
            restarts=tuple(require_aware(datetime.fromisoformat(item), "restarts") for item in loaded.get("restarts", ())),
        )


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's answer at one instant."""

    memory: HealthRuleMemory
    active: bool = False
    restart_due: bool = False
    next_change: datetime | None = None


def evaluate_rule(
    rule: HealthRule, memory: HealthRuleMemory | None, observation: HealthObservation | None, now: datetime
) -> RuleOutcome:
    """Return what ``rule`` says at ``now`` given the ``observation`` (``None``: not observed yet) and its ``memory``."""
    memory = memory or HealthRuleMemory()
    if rule.is_restart:
        return _evaluate_restart(rule, memory, observation, now)
    return _evaluate_state(rule, memory, observation, now)


def _evaluate_state(
    rule: HealthRule, memory: HealthRuleMemory, observation: HealthObservation | None, now: datetime
) -> RuleOutcome:
    if memory.active_since is not None:
        if observation is None or observation.value is not HealthStatus.HEALTHY:
            return RuleOutcome(memory, active=True)
        release = max(observation.since + rule.recover_for, memory.active_since)
        if now < release:
            return RuleOutcome(memory, active=True, next_change=release)
        memory = replace(memory, active_since=None, released_at=release)
    if observation is None or observation.value is not rule.status:
        return RuleOutcome(memory)
    qualifies = observation.since + rule.for_
    if memory.released_at is not None:
        qualifies = max(qualifies, memory.released_at + rule.cooldown)
    if now < qualifies:
        return RuleOutcome(memory, next_change=qualifies)
    return RuleOutcome(replace(memory, active_since=qualifies), active=True)


def _evaluate_restart(
    rule: HealthRule, memory: HealthRuleMemory, observation: HealthObservation | None, now: datetime
) -> RuleOutcome:
    keep_after = now - max(RESTART_PERIOD, rule.cooldown)
    kept = tuple(restart for restart in memory.restarts if restart > keep_after)
    if kept != memory.restarts:
        memory = replace(memory, restarts=kept)
    if observation is None or observation.value is not rule.status:
        if memory.episode_since is not None:
            memory = replace(memory, episode_since=None)
        return RuleOutcome(memory)
    if memory.episode_since != observation.since:
        memory = replace(memory, episode_since=observation.since)
    if memory.fired_episode == observation.since:
        return RuleOutcome(memory)
    due = restart_due_at(rule, memory, observation.since, now)
    if now < due:
        return RuleOutcome(memory, next_change=due)
    return RuleOutcome(memory, restart_due=True)


def restart_due_at(rule: HealthRule, memory: HealthRuleMemory, episode_since: datetime, now: datetime) -> datetime:
    """Return when a restart for the episode that began at ``episode_since`` may happen (``for``, cooldown, max_per_day)."""
    due = episode_since + rule.for_
    if memory.restarts:
        due = max(due, max(memory.restarts) + rule.cooldown)
    recent = sorted(restart for restart in memory.restarts if restart > now - RESTART_PERIOD)
    if len(recent) >= rule.max_per_day:
        due = max(due, recent[-rule.max_per_day] + RESTART_PERIOD)
    return due


def record_restart(memory: HealthRuleMemory | None, at: datetime) -> HealthRuleMemory:
    """Return ``memory`` after a restart performed at ``at`` for its current episode.

    Call it once the daemon has restarted the deployment because ``restart_due`` named the rule.
    """
    memory = memory or HealthRuleMemory()
    at = require_aware(at, "at")
    return replace(memory, restarts=(*memory.restarts, at), fired_episode=memory.episode_since)


def restarts_in_last_day(memory: HealthRuleMemory, now: datetime) -> int:
    """Return how many restarts ``memory`` holds in the 24 hours up to ``now``."""
    return sum(1 for restart in memory.restarts if now - RESTART_PERIOD < restart <= now)
