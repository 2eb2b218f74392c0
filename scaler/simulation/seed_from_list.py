"""An organization to simulate from a list of deployments (``--inventory FILE`` or ``--live``).

The list response tells each deployment's status and accelerators but not its replica
bounds; a simulated deployment starts as listed, with the bounds that would run without
the scaler (its policy's baseline, see :func:`scaler.policy.savings_rules.baseline_replicas`) and
the simulator's default start-up delay. Statuses the simulator does not know are
simulated as DEPLOYED, listed with their own text (the daemon leaves them alone).
"""

from __future__ import annotations

from collections.abc import Iterable

from scaler.policy import PolicySet
from scaler.policy.matching import match_policies
from scaler.policy.savings_rules import baseline_replicas
from scaler.sim.model import SeedDeployment, SeedDocument
from scaler.simplismart.models import Deployment, DeploymentStatus


def seed_from_inventory(deployments: Iterable[Deployment], policy_set: PolicySet, *, source: str) -> SeedDocument:
    """Return a seed holding ``deployments`` as listed, each at its policy's baseline bounds (no quotas)."""
    seeds = []
    for deployment in deployments:
        baseline = baseline_replicas(match_policies(policy_set, deployment).policy)
        known = deployment.status is not DeploymentStatus.UNKNOWN
        extra = {} if known else {"status": deployment.status_raw}
        seeds.append(
            SeedDeployment(
                deployment_id=str(deployment.deployment_id),
                deployment_name=deployment.deployment_name,
                model_repo_id=str(deployment.model_repo_id) if deployment.model_repo_id is not None else None,
                model_repo_name=deployment.model_repo_name or "",
                model_type=deployment.model_type or "custom",
                accelerator_type=deployment.accelerator_type or ("cpu",),
                accelerator_count=deployment.accelerator_count,
                status=deployment.status.value if known else DeploymentStatus.DEPLOYED.value,
                min_replicas=baseline,
                max_replicas=max(baseline, 1),
                running=deployment.status is not DeploymentStatus.SCALED_DOWN,
                extra=extra,
            )
        )
    return SeedDocument(deployments=tuple(seeds), source=source)
