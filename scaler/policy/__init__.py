"""The policy language and the schedule engine: pure functions of policies, deployments and an instant.

The names the daemon and the commands use are re-exported here; each lives in a
module of its own (``model``, ``loader``, ``schedule``, ``matching``, ``health_rules``,
``resolve``, ``savings_rules``, ``plan``, ``forecast``).
"""

from scaler.policy.errors import PolicyError, PolicyIssue, PolicyLoadError, PolicyPathError, PolicySetEmpty
from scaler.policy.health_rules import HealthObservation, HealthRuleMemory, record_restart
from scaler.policy.loader import load_policy_set, require_policies
from scaler.policy.matching import PolicyMatch, match_key, match_policies
from scaler.policy.model import Expire, HealthRule, Match, Policy, Window
from scaler.policy.policy_set import BUILTIN_PRICES, PolicySet, PolicySource
from scaler.policy.forecast import ExceptionSpan, Forecast
from scaler.policy.plan import build_plan
from scaler.policy.resolve import Override, Resolution, expire_at, grace_ends_at, resolve_desired_state
from scaler.policy.savings_rules import (
    Usage,
    baseline_replicas,
    cost_of,
    gpu_hours,
    price_per_gpu_hour,
    replicas_under,
    usage_between,
)
from scaler.policy.schedule import next_boundary, scheduled_state
from scaler.policy.states import DesiredState

__all__ = [
    "BUILTIN_PRICES",
    "DesiredState",
    "ExceptionSpan",
    "Expire",
    "Forecast",
    "HealthObservation",
    "HealthRule",
    "HealthRuleMemory",
    "Match",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PolicyLoadError",
    "PolicyMatch",
    "PolicyPathError",
    "PolicySetEmpty",
    "PolicySet",
    "PolicySource",
    "Override",
    "Resolution",
    "Usage",
    "Window",
    "baseline_replicas",
    "build_plan",
    "cost_of",
    "expire_at",
    "grace_ends_at",
    "gpu_hours",
    "load_policy_set",
    "match_key",
    "match_policies",
    "next_boundary",
    "price_per_gpu_hour",
    "record_restart",
    "replicas_under",
    "require_policies",
    "resolve_desired_state",
    "scheduled_state",
    "usage_between",
]
