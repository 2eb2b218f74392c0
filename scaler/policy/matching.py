"""Which policy governs a deployment: ``match`` selectors, priority and conflicts.

A policy selects a deployment when every selector it gives matches (fields are
ANDed, entries of one list ORed) and no ``exclude_names`` glob matches the name.
Globs are shell-style (``*``, ``?``, ``[abc]``) and case-sensitive. Among the
policies that select a deployment the highest ``priority`` wins; two or more at the
same highest priority are a conflict, and the deployment is left alone.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from scaler.policy.model import Match, Policy
from scaler.policy.policy_set import PolicySet
from scaler.simplismart.models import Deployment


@dataclass(frozen=True)
class PolicyMatch:
    """The policy that governs a deployment, or the policies in conflict over it.

    ``policy`` is ``None`` both when nothing matches (``conflict`` empty) and when
    several policies tie at the highest priority (``conflict`` names them, in file order).
    """

    policy: Policy | None
    conflict: tuple[str, ...] = ()

    @property
    def is_conflict(self) -> bool:
        """Whether policies tie for the deployment."""
        return bool(self.conflict)


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _any_glob(patterns: tuple[str, ...], value: str | None) -> bool:
    return value is not None and any(_glob(pattern).match(value) for pattern in patterns)


def selects(match: Match, deployment: Deployment) -> bool:
    """Return whether ``match`` selects ``deployment`` (exclusions applied)."""
    if match.exclude_names and _any_glob(match.exclude_names, deployment.deployment_name):
        return False
    if match.names and not _any_glob(match.names, deployment.deployment_name):
        return False
    if match.ids and deployment.deployment_id not in match.id_set:
        return False
    if match.model_repo_ids and deployment.model_repo_id not in match.model_repo_ids:
        return False
    if match.model_repo_names and not _any_glob(match.model_repo_names, deployment.model_repo_name):
        return False
    if match.accelerator_types and not any(kind in match.accelerator_types for kind in deployment.accelerator_type):
        return False
    return match.selects_anything


#: Deployments whose match a policy set remembers at most; past that it starts again (deployments come and go).
MATCH_CACHE_LIMIT = 65_536


def match_policies(policy_set: PolicySet, deployment: Deployment) -> PolicyMatch:
    """Return the policy that governs ``deployment`` in ``policy_set``, or the conflict.

    The answer depends only on the set and on the fields ``match`` reads, so the set
    remembers it: every cycle asks again for every deployment, and with hundreds of
    policies matching was most of a 10,000-deployment cycle.
    """
    key = match_key(deployment)
    cache = policy_set.match_cache
    found = cache.get(key)
    if found is None:
        if len(cache) >= MATCH_CACHE_LIMIT:
            cache.clear()
        found = cache[key] = _match(policy_set, deployment)
    return found


def match_key(deployment: Deployment) -> tuple[object, ...]:
    """The fields of ``deployment`` that ``match`` reads: deployments equal in them are governed alike."""
    return (
        deployment.deployment_id,
        deployment.deployment_name,
        deployment.model_repo_id,
        deployment.model_repo_name,
        tuple(deployment.accelerator_type),
    )


def _match(policy_set: PolicySet, deployment: Deployment) -> PolicyMatch:
    best: list[Policy] = []
    for policy in policy_set.policies:
        if not selects(policy.match, deployment):
            continue
        if not best or policy.priority > best[0].priority:
            best = [policy]
        elif policy.priority == best[0].priority:
            best.append(policy)
    if len(best) == 1:
        return PolicyMatch(best[0])
    return PolicyMatch(None, tuple(policy.name for policy in best))


def matched_counts(policy_set: PolicySet, deployments: Iterable[Deployment]) -> dict[str, int]:
    """Return how many of ``deployments`` each policy's ``match`` selects, by policy name (file order)."""
    listed = list(deployments)
    return {
        policy.name: sum(1 for deployment in listed if selects(policy.match, deployment)) for policy in policy_set.policies
    }


def policies_matching_nothing(policy_set: PolicySet, deployments: Iterable[Deployment]) -> list[str]:
    """Return the names of the policies (in file order) whose ``match`` selects none of ``deployments``."""
    unmatched = {policy.name: policy for policy in policy_set.policies}
    for deployment in deployments:
        if not unmatched:
            break
        for name in [name for name, policy in unmatched.items() if selects(policy.match, deployment)]:
            del unmatched[name]
    return list(unmatched)
