"""Savings rules: the replicas a state keeps running, GPU-hours and their cost.

- Replicas under a state: ``stopped`` 0; bounds ``min_replicas`` (the floor the
  platform keeps running); ``running`` without bounds, or left alone, the baseline.
- Baseline (what would run without the scaler): the policy's ``baseline_replicas``,
  else its default's ``min_replicas`` when the default is a bounds state, else 1; 1
  for a deployment no policy governs.
- GPU-hours = replicas x ``accelerator_count`` x hours; cost = GPU-hours x price per
  GPU-hour of the deployment's (first) accelerator. An accelerator without a price
  has an unknown cost (``None``), never zero.

``scaler plan`` predicts with these functions; the daemon counts realized savings
with the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from scaler.policy.model import DesiredState, Policy
from scaler.policy.policy_set import BUILTIN_PRICES
from scaler.simplismart.models import Deployment


def baseline_replicas(policy: Policy | None) -> int:
    """Return the replicas that would run without the scaler for a deployment ``policy`` governs (1 without one)."""
    return policy.baseline if policy is not None else 1


def replicas_under(state: DesiredState | None, baseline: int) -> int:
    """Return the replicas running under ``state`` (``None``: left alone) for a deployment of ``baseline`` replicas."""
    if state is None or state.kind == "running":
        return baseline
    if state.kind == "stopped":
        return 0
    return state.min_replicas or 0


def price_per_gpu_hour(accelerator: str, pricing: Mapping[str, float] = BUILTIN_PRICES) -> float | None:
    """Return the $ per GPU-hour of ``accelerator`` in ``pricing`` (built-ins included in a set's pricing), or ``None``."""
    return pricing.get(accelerator)


def gpu_hours(replicas: int, accelerator_count: int, seconds: float) -> float:
    """Return the GPU-hours of ``replicas`` x ``accelerator_count`` GPUs over ``seconds``."""
    return replicas * accelerator_count * seconds / 3600.0


def cost_of(hours: float, price: float | None) -> float | None:
    """Return the cost of ``hours`` GPU-hours at ``price`` per GPU-hour, or ``None`` when the price is unknown."""
    return None if price is None else hours * price


@dataclass(frozen=True)
class Usage:
    """GPU-hours and cost (``None``: unknown price) with and without the scaler over one period."""

    baseline_gpu_hours: float = 0.0
    planned_gpu_hours: float = 0.0
    baseline_cost: float | None = 0.0
    planned_cost: float | None = 0.0

    def __add__(self, other: Usage) -> Usage:
        def add(left: float | None, right: float | None) -> float | None:
            return None if left is None or right is None else left + right

        return Usage(
            self.baseline_gpu_hours + other.baseline_gpu_hours,
            self.planned_gpu_hours + other.planned_gpu_hours,
            add(self.baseline_cost, other.baseline_cost),
            add(self.planned_cost, other.planned_cost),
        )

    @property
    def saved_gpu_hours(self) -> float:
        """GPU-hours saved (negative when the scaler runs more than the baseline)."""
        return self.baseline_gpu_hours - self.planned_gpu_hours

    @property
    def saved_cost(self) -> float | None:
        """Money saved, or ``None`` when a price is unknown."""
        if self.baseline_cost is None or self.planned_cost is None:
            return None
        return self.baseline_cost - self.planned_cost


def usage_between(
    deployment: Deployment,
    state: DesiredState | None,
    baseline: int,
    start: datetime,
    end: datetime,
    pricing: Mapping[str, float] = BUILTIN_PRICES,
) -> Usage:
    """Return the usage of ``deployment`` held in ``state`` from ``start`` to ``end``, against ``baseline`` replicas."""
    seconds = max((end - start).total_seconds(), 0.0)
    price = price_per_gpu_hour(deployment.accelerator, pricing)
    baseline_hours = gpu_hours(baseline, deployment.accelerator_count, seconds)
    planned_hours = gpu_hours(replicas_under(state, baseline), deployment.accelerator_count, seconds)
    return Usage(baseline_hours, planned_hours, cost_of(baseline_hours, price), cost_of(planned_hours, price))


def savings_percent(total: Usage) -> float | None:
    """Return 100 x (baseline - planned) / baseline: of cost when known, else of GPU-hours; ``None`` for a zero baseline."""
    if total.baseline_cost is not None and total.planned_cost is not None:
        baseline, planned = total.baseline_cost, total.planned_cost
    else:
        baseline, planned = total.baseline_gpu_hours, total.planned_gpu_hours
    if baseline <= 0:
        return None
    return 100.0 * (baseline - planned) / baseline
