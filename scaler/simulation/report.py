"""What a simulation reports: per deployment the actions, GPU-hours and cost four ways, the
difference from the plan by cause and peak readiness; totals for the organization.

The four figures of GPU-hours (and their cost, by the savings rules of
:mod:`scaler.policy.savings_rules`):

- ``baseline``: what would run without the scaler (the savings rules' baseline);
- ``planned``: ``scaler plan``'s projection for the same period;
- ``realized``: what the simulated platform ran, from its own ledger (:mod:`scaler.sim.ledger`);
- ``counted``: what the daemon claims, the baseline less its savings counters.

The difference ``realized - planned`` is cut where anything changes and each piece is
put down to a cause: ``health_rules`` while the deployment's latest action came from a
health rule (or was a restart), ``refusals`` while its latest action was refused
(``error``) or held (``blocked``), ``deferrals`` while it waited for a cycle's action budget
(``SCALER_MAX_ACTIONS_PER_CYCLE``), ``start_up`` while it was starting, ``other`` else (a
deployment no policy governs and that is not running, as the plan assumes it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scaler.policy.forecast import DeploymentPlan, iso_utc
from scaler.policy.savings_rules import Usage, cost_of, price_per_gpu_hour, replicas_under, savings_percent
from scaler.sim.ledger import GpuLedger
from scaler.simulation.run import SimulationRun
from scaler.store import ActionRecord

_DIGITS = 6
#: Action results that mean the platform (or a gate) did not let the change through.
REFUSED_RESULTS = ("error", "blocked")
CAUSES = ("health_rules", "start_up", "refusals", "deferrals", "other")
FIGURES = ("baseline", "planned", "realized", "counted")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS) + 0.0


def _add(left: float | None, right: float | None) -> float | None:
    return None if left is None or right is None else left + right


@dataclass(frozen=True)
class Figures:
    """GPU-hours and cost (``None``: unknown price) four ways."""

    gpu_hours: dict[str, float]
    cost: dict[str, float | None]

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            {key: self.gpu_hours[key] + other.gpu_hours[key] for key in FIGURES},
            {key: _add(self.cost[key], other.cost[key]) for key in FIGURES},
        )


ZERO = Figures(dict.fromkeys(FIGURES, 0.0), dict.fromkeys(FIGURES, 0.0))


def build_report(run: SimulationRun) -> dict[str, Any]:
    """Return the simulation's JSON document (``scaler simulate --output json``)."""
    by_deployment: dict[str, list[ActionRecord]] = {}
    for record in run.actions:
        by_deployment.setdefault(str(record.deployment_id), []).append(record)
    entries = []
    total = ZERO
    for plan_entry in run.plan.deployments:
        deployment_id = str(plan_entry.deployment.deployment_id)
        actions = by_deployment.get(deployment_id, [])
        figures = _figures(run, plan_entry)
        total = total + figures
        entries.append(
            {
                "deployment_id": deployment_id,
                "deployment_name": plan_entry.deployment.deployment_name,
                "policy": plan_entry.policy,
                "actions": [_action(record) for record in actions],
                "gpu_hours": {key: _round(value) for key, value in figures.gpu_hours.items()},
                "cost": {key: _round(value) for key, value in figures.cost.items()},
                "difference": {
                    key: _round(value) for key, value in _difference(run, plan_entry, actions).items()
                },
                "peak_readiness": _readiness(run, deployment_id),
            }
        )
    return {
        "from": iso_utc(run.start),
        "until": iso_utc(run.until),
        "deployments": entries,
        "totals": {
            "gpu_hours": {key: _round(value) for key, value in total.gpu_hours.items()},
            "cost": {key: _round(value) for key, value in total.cost.items()},
            "savings_percent": {
                key: _round_percent(_percent(total, key)) for key in ("planned", "realized", "counted")
            },
            "peak_readiness": _total_readiness(entries),
            "difference": {
                key: _round(sum(entry["difference"][key] for entry in entries)) for key in ("gpu_hours", *CAUSES)
            },
        },
    }


def _round_percent(value: float | None) -> float | None:
    return None if value is None else round(value, 4) + 0.0


def _percent(total: Figures, key: str) -> float | None:
    hours, cost = total.gpu_hours, total.cost
    return savings_percent(Usage(hours["baseline"], hours[key], cost["baseline"], cost[key]))


def _action(record: ActionRecord) -> dict[str, Any]:
    parameters = record.parameters
    return {
        "at": iso_utc(record.started_at),
        "action": record.action,
        "min_replicas": parameters.get("min_replicas"),
        "max_replicas": parameters.get("max_replicas"),
        "result": record.result,
        "reason": record.reason,
    }


def _figures(run: SimulationRun, entry: DeploymentPlan) -> Figures:
    deployment = entry.deployment
    deployment_id = str(deployment.deployment_id)
    price = price_per_gpu_hour(deployment.accelerator, run.policy_set.pricing)
    usage = entry.usage
    realized = run.ledger.gpu_seconds(deployment_id, run.start, run.until) / 3600.0
    saved_seconds, saved_dollars = run.saved.get(deployment_id, (0.0, 0.0))
    counted = usage.baseline_gpu_hours - saved_seconds / 3600.0
    counted_cost = None if usage.baseline_cost is None or price is None else usage.baseline_cost - saved_dollars
    return Figures(
        {"baseline": usage.baseline_gpu_hours, "planned": usage.planned_gpu_hours, "realized": realized, "counted": counted},
        {
            "baseline": usage.baseline_cost,
            "planned": usage.planned_cost,
            "realized": cost_of(realized, price),
            "counted": counted_cost,
        },
    )


def _planned_gpus(entry: DeploymentPlan, baseline: int, instant: datetime) -> int:
    state = None
    for transition in entry.transitions:
        if transition.at > instant:
            break
        state = transition.state
    return replicas_under(state, entry.baseline_at(instant, baseline)) * entry.deployment.accelerator_count


def _difference(run: SimulationRun, entry: DeploymentPlan, actions: list[ActionRecord]) -> dict[str, float]:
    """``realized - planned`` GPU-hours, and its part put down to each cause."""
    deployment_id = str(entry.deployment.deployment_id)
    policy = run.policy_set.policy(entry.policy) if entry.policy else None
    baseline = policy.baseline if policy is not None else 1
    ledger: GpuLedger = run.ledger
    cuts = {run.start, run.until}
    cuts.update(t.at for t in entry.transitions if run.start < t.at < run.until)
    for ledger_entry in ledger.entries(deployment_id):
        for moment in (ledger_entry.at, ledger_entry.ready_at):
            if moment is not None and run.start < moment < run.until:
                cuts.add(moment)
    cuts.update(record.started_at for record in actions if run.start < record.started_at < run.until)
    ordered = sorted(cuts)
    parts = dict.fromkeys(("gpu_hours", *CAUSES), 0.0)
    position = 0
    latest: ActionRecord | None = None
    for left, right in zip(ordered, ordered[1:]):
        while position < len(actions) and actions[position].started_at <= left:
            latest = actions[position]
            position += 1
        gap = ledger.gpu_seconds(deployment_id, left, right) - _planned_gpus(entry, baseline, left) * (
            right - left
        ).total_seconds()
        if gap == 0:
            continue
        hours = gap / 3600.0
        parts["gpu_hours"] += hours
        parts[_cause(latest, ledger, deployment_id, left)] += hours
    return parts


def _cause(latest: ActionRecord | None, ledger: GpuLedger, deployment_id: str, instant: datetime) -> str:
    source = str(latest.parameters.get("source", "")) if latest is not None else ""
    if latest is not None and (source.startswith("health:") or latest.action == "restart"):
        return "health_rules"
    if latest is not None and latest.result in REFUSED_RESULTS:
        return "refusals"
    if latest is not None and latest.result == "deferred":
        return "deferrals"
    starting = [entry for entry in ledger.entries(deployment_id) if entry.at <= instant]
    if starting and starting[-1].ready_at is not None and instant < starting[-1].ready_at:
        return "start_up"
    return "other"


def _readiness(run: SimulationRun, deployment_id: str) -> dict[str, Any]:
    peaks = [peak for peak in run.peaks if peak.deployment_id == deployment_id]
    ready = sum(1 for peak in peaks if run.healthy_at_start.get((deployment_id, peak.nominal_start), False))
    warmup = sum(run.ledger.gpu_seconds(deployment_id, peak.opened, peak.nominal_start) for peak in peaks) / 60.0
    return {"windows": len(peaks), "ready_at_start": ready, "warmup_gpu_minutes": _round(warmup)}


def _total_readiness(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "windows": sum(entry["peak_readiness"]["windows"] for entry in entries),
        "ready_at_start": sum(entry["peak_readiness"]["ready_at_start"] for entry in entries),
        "warmup_gpu_minutes": _round(sum(entry["peak_readiness"]["warmup_gpu_minutes"] for entry in entries)),
    }
