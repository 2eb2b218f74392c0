"""Savings rules: replicas under each state, the baseline, prices, GPU-hours, cost and percent."""

from __future__ import annotations

import pytest

from scaler.policy.model import DesiredState
from scaler.policy.policy_set import BUILTIN_PRICES
from scaler.policy.savings_rules import (
    Usage,
    baseline_replicas,
    gpu_hours,
    price_per_gpu_hour,
    replicas_under,
    savings_percent,
    usage_between,
)

from .helpers import deployment, policy, utc


def test_stopped_runs_no_replicas():
    """While stopped, replicas = 0."""
    assert 0 == replicas_under(DesiredState.stopped(), baseline=3)


def test_bounds_run_their_minimum():
    """While running with bounds, replicas = min_replicas."""
    assert 2 == replicas_under(DesiredState.bounds(2, 8), baseline=3)


def test_running_without_bounds_runs_the_baseline():
    """While running without bounds, replicas = the baseline."""
    assert 3 == replicas_under(DesiredState.running(), baseline=3)


def test_left_alone_runs_the_baseline():
    """When left alone, replicas = the baseline."""
    assert 3 == replicas_under(None, baseline=3)


def test_baseline_is_baseline_replicas_first():
    """baseline_replicas wins over the default's minimum."""
    p = policy('name: p\nmatch: {names: [a]}\nbaseline_replicas: 4\ndefault: {min_replicas: 1, max_replicas: 2}')
    assert 4 == baseline_replicas(p)


def test_baseline_is_the_default_minimum_next():
    """Without baseline_replicas, a bounds default's min_replicas is the baseline."""
    p = policy('name: p\nmatch: {names: [a]}\ndefault: {min_replicas: 2, max_replicas: 5}')
    assert 2 == baseline_replicas(p)


def test_baseline_is_one_otherwise():
    """Without either (a stopped default, or none), the baseline is 1; without a policy too."""
    assert 1 == baseline_replicas(policy('name: p\nmatch: {names: [a]}\ndefault: stopped'))
    assert 1 == baseline_replicas(None)


def test_gpu_hours_are_replicas_times_count_times_hours():
    """2 replicas x 4 GPUs x 1.5 h = 12 GPU-hours."""
    assert 12.0 == gpu_hours(2, 4, 5400)


@pytest.mark.parametrize(
    ("accelerator", "price"),
    [("nvidia-tesla-t4", 1.20), ("nvidia-l4", 1.50), ("nvidia-a10g", 2.00), ("nvidia-a100", 3.00), ("nvidia-h100", 4.00), ("nvidia-h200", 5.20)],
)
def test_builtin_prices(accelerator: str, price: float):
    """Simplismart's published dedicated rates are built in."""
    assert price == price_per_gpu_hour(accelerator, BUILTIN_PRICES)


def test_unknown_accelerator_has_no_price():
    """An accelerator without a price has an unknown price, not zero."""
    assert price_per_gpu_hour("tpu-v5", BUILTIN_PRICES) is None


def test_usage_of_a_stopped_night():
    """An h100 x2 deployment stopped for 10 hours against a baseline of 1: 20 GPU-hours and $80 saved."""
    d = deployment("a", accelerator="nvidia-h100", count=2)
    usage = usage_between(d, DesiredState.stopped(), 1, utc("2026-03-02T20:00"), utc("2026-03-03T06:00"))
    assert Usage(20.0, 0.0, 80.0, 0.0) == usage


def test_unknown_price_makes_the_cost_unknown():
    """With an unknown price the cost is None, and so is any total it is part of."""
    d = deployment("a", accelerator="tpu-v5")
    usage = usage_between(d, None, 1, utc("2026-03-02T00:00"), utc("2026-03-02T01:00"))
    assert (1.0, None) == (usage.baseline_gpu_hours, usage.baseline_cost)
    assert (usage + Usage(1.0, 0.0, 4.0, 0.0)).baseline_cost is None


def test_savings_percent_uses_cost_when_known():
    """With every cost known the percentage is of cost."""
    assert 75.0 == savings_percent(Usage(10.0, 5.0, 40.0, 10.0))


def test_savings_percent_uses_gpu_hours_when_a_cost_is_unknown():
    """With an unknown cost the percentage is of GPU-hours."""
    assert 50.0 == savings_percent(Usage(10.0, 5.0, None, None))


def test_savings_percent_of_nothing_is_none():
    """A zero baseline has no percentage."""
    assert savings_percent(Usage(0.0, 0.0, 0.0, 0.0)) is None
