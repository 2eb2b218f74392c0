"""Resolution: what one deployment should look like at one instant, why, and until when.

For a deployment at instant ``now``: if it is suspended it is left alone; else the
policy with the highest priority among those that select it governs (a tie is a
conflict: left alone, reported); within that policy a person's override decides (and is
enforced) while it lasts; else a new deployment (first seen after the scaler's first
inventory) is left alone during its grace period; else the first active health rule
decides, else the first open window, else the default, else it is left alone. A due
restart rule restarts all the same.
Everything is a function of its arguments: the daemon passes the instant, the health
it tracks and the memory it persisted, and persists the memory it gets back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scaler.policy.health_rules import HealthObservation, HealthRuleMemory, RuleOutcome, evaluate_rule
from scaler.policy.matching import match_policies
from scaler.policy.model import DesiredState, Policy
from scaler.policy.policy_set import PolicySet
from scaler.policy.schedule import schedule_of
from scaler.policy.zones import require_aware
from scaler.simplismart.models import Deployment

__all__ = [
    "HealthObservation",
    "Override",
    "Resolution",
    "expire_at",
    "grace_ends_at",
    "match_policies",
    "resolve_desired_state",
    "resolve_for_policy",
]


@dataclass(frozen=True)
class Resolution:
    """The engine's answer for one deployment at one instant.

    - ``policy``: the governing policy's name (``None``: none matches, or a conflict).
    - ``conflict``: the names of the policies that tie at the highest priority.
    - ``desired``: the state to reach; ``None`` means leave the deployment alone.
    - ``source``: ``override:<id>``, ``health:<rule>``, ``window:<name>``, ``default``, ``none``,
      ``suspended`` or ``grace`` (a new deployment left alone until ``grace_until``).
    - ``enforce``: the governing policy's ``enforce`` flag (always true under an override).
    - ``next_change``: the next instant at which this answer could change without a new
      observation (window boundary with lead time, a rule's ``for``/``recover_for``/
      cooldown/``max_per_day`` running out, the expiry, the end of a suspension or override); ``None``: never.
    - ``restart_due``: the restart rule whose restart should be performed now, or ``None``.
    - ``expire_at``: when the deployment expires under the policy's ``expire`` (needs ``first_seen``).
    - ``memory``: the updated memory of each of the policy's health rules, by rule name.
    - ``grace_until``: while a new deployment's grace period runs, when it ends.
    - ``author``: under an override, who made it and why (``by alice: eval tonight``); see :attr:`cause`.
    """

    policy: str | None
    conflict: tuple[str, ...] = ()
    desired: DesiredState | None = None
    source: str = "none"
    enforce: bool = False
    next_change: datetime | None = None
    restart_due: str | None = None
    expire_at: datetime | None = None
    memory: Mapping[str, HealthRuleMemory] = field(default_factory=dict)
    grace_until: datetime | None = None
    author: str = ""

    @property
    def cause(self) -> str:
        """What an action taken for this answer names as its cause: the source, followed under an
        override by who made it and why (``override:<id> by alice: eval tonight``)."""
        return f"{self.source} {self.author}" if self.author else self.source

    @property
    def leave_alone(self) -> bool:
        """Whether the deployment is to be left as it is."""
        return self.desired is None

    @property
    def suspended(self) -> bool:
        """Whether the deployment is out of automation for now."""
        return self.source == "suspended"


@dataclass(frozen=True)
class Override:
    """A person's override: ``state`` is desired (and enforced) until ``until``; ``source`` names it
    (``override:<id>``); ``by`` and ``reason`` say who made it and why."""

    state: DesiredState
    until: datetime
    source: str
    by: str = ""
    reason: str = ""

    @property
    def author(self) -> str:
        """Who made the override and why, as an action's reason names them: ``by alice: eval tonight``."""
        return ": ".join(part for part in (f"by {self.by}" if self.by else "", self.reason) if part)


def resolve_desired_state(
    policy_set: PolicySet,
    deployment: Deployment,
    *,
    now: datetime,
    health: HealthObservation | None = None,
    rule_memory: Mapping[str, HealthRuleMemory] | None = None,
    suspended_until: datetime | None = None,
    first_seen: datetime | None = None,
    new: bool = False,
    default_grace: timedelta = timedelta(0),
    override: Override | None = None,
    lead_times: Mapping[str, timedelta] | None = None,
) -> Resolution:
    """Return what ``deployment`` should look like at ``now`` under ``policy_set``.

    ``health`` is the tracked health (``None``: not observed yet), ``rule_memory`` the
    persisted memory of the governing policy's rules by name, ``suspended_until`` the end
    of a suspension in force, ``first_seen`` when the scaler first saw the deployment (for
    ``expire`` and the grace period). ``new``: the deployment appeared after the scaler's
    first inventory, so it is left alone for the governing policy's ``grace_period`` (else
    ``default_grace``) from ``first_seen``. ``override``: a person's override in force (a
    suspension beats it; it beats the grace period). ``lead_times``: the lead times learned for
    the deployment by window name (``lead_time: auto``). Raises ``ValueError`` when ``now`` is naive.
    """
    now = require_aware(now, "now")
    matched = match_policies(policy_set, deployment)
    if suspended_until is not None and now < suspended_until:
        return Resolution(
            policy=matched.policy.name if matched.policy else None,
            conflict=matched.conflict,
            source="suspended",
            enforce=matched.policy.enforce if matched.policy else False,
            next_change=suspended_until,
            memory=dict(rule_memory or {}),
        )
    if matched.policy is None:
        return Resolution(policy=None, conflict=matched.conflict)
    grace_until = grace_ends_at(matched.policy, first_seen, new=new, default=default_grace)
    if override is None and grace_until is not None and now < grace_until:
        return Resolution(
            policy=matched.policy.name,
            source="grace",
            enforce=matched.policy.enforce,
            next_change=grace_until,
            memory=dict(rule_memory or {}),
            grace_until=grace_until,
        )
    return resolve_for_policy(
        matched.policy,
        now=now,
        health=health,
        rule_memory=rule_memory,
        first_seen=first_seen,
        override=override,
        lead_times=lead_times,
    )


def grace_ends_at(policy: Policy, first_seen: datetime | None, *, new: bool, default: timedelta) -> datetime | None:
    """Return when the grace period of a deployment first seen at ``first_seen`` ends under ``policy``
    (``None``: the deployment is not new, its first sighting is unknown, or the grace period is 0)."""
    if not new or first_seen is None:
        return None
    grace = policy.grace(default)
    if grace <= timedelta(0):
        return None
    return require_aware(first_seen, "first_seen") + grace


def resolve_for_policy(
    policy: Policy,
    *,
    now: datetime,
    health: HealthObservation | None = None,
    rule_memory: Mapping[str, HealthRuleMemory] | None = None,
    first_seen: datetime | None = None,
    override: Override | None = None,
    lead_times: Mapping[str, timedelta] | None = None,
) -> Resolution:
    """Return the answer of ``policy`` for a deployment it governs at ``now`` (see :func:`resolve_desired_state`)."""
    now = require_aware(now, "now")
    memories = rule_memory or {}
    outcomes = [(rule.label, evaluate_rule(rule, memories.get(rule.label), health, now)) for rule in policy.health]
    overridden = override is not None and now < override.until
    desired, source, author, candidates = _deciding_state(
        policy, outcomes, override if overridden else None, now=now, lead_times=lead_times
    )
    restart_due = None
    if desired is None or desired.is_running:
        restart_due = next(
            (name for rule, (name, outcome) in zip(policy.health, outcomes) if rule.is_restart and outcome.restart_due),
            None,
        )
    candidates.extend(outcome.next_change for _, outcome in outcomes if outcome.next_change is not None)

    expires = expire_at(policy, first_seen)
    if expires is not None:
        candidates.append(expires)
    future = [instant for instant in candidates if instant > now]
    return Resolution(
        policy=policy.name,
        desired=desired,
        source=source,
        author=author,
        enforce=policy.enforce or overridden,
        next_change=min(future) if future else None,
        restart_due=restart_due,
        expire_at=expires,
        memory={name: outcome.memory for name, outcome in outcomes},
    )


def _deciding_state(
    policy: Policy,
    outcomes: list[tuple[str, RuleOutcome]],
    override: Override | None,
    *,
    now: datetime,
    lead_times: Mapping[str, timedelta] | None,
) -> tuple[DesiredState | None, str, str, list[datetime]]:
    """What decides at ``now`` (an override in force, else a health rule holding a state, else the
    schedule): the state, its source, the override's author, and the instants at which that may change."""
    if override is not None:
        return override.state, override.source, override.author, [override.until]
    active_rule = next(
        (rule for rule, (_, outcome) in zip(policy.health, outcomes) if outcome.active and not rule.is_restart),
        None,
    )
    if active_rule is not None:
        return active_rule.state, f"health:{active_rule.label}", "", []
    schedule = schedule_of(policy, lead_times)
    segment = schedule.state_at(now)
    boundary = schedule.next_change(now)
    return segment.state, segment.source, "", [] if boundary is None else [boundary]


def expire_at(policy: Policy, first_seen: datetime | None) -> datetime | None:
    """Return when a deployment first seen at ``first_seen`` expires under ``policy`` (``None``: never, or unknown)."""
    if policy.expire is None or first_seen is None:
        return None
    return require_aware(first_seen, "first_seen") + policy.expire.after
