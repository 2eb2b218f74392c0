"""The plan as text for people: each deployment's transitions in local and UTC time, and the totals."""

from __future__ import annotations

from datetime import datetime

from scaler.policy.plan import DeploymentPlan, Plan, Transition
from scaler.policy.zones import UTC, zone


def render_plan_table(plan: Plan) -> str:
    """Return the plan as a readable report: one block per deployment, then the totals."""
    hours = (plan.until - plan.start).total_seconds() / 3600
    lines = [
        f"Plan from {_utc(plan.start)} until {_utc(plan.until)} ({hours:g} h), "
        f"{len(plan.deployments)} deployment{'s' if len(plan.deployments) != 1 else ''}",
        "",
    ]
    for entry in plan.deployments:
        lines.extend(_deployment_block(entry))
        lines.append("")
    if plan.skipped:
        skipped = ", ".join(f"{d.deployment_name} ({d.status_raw or d.status.value})" for d in plan.skipped)
        lines.append(f"Not planned (the scaler never acts on them): {skipped}")
        lines.append("")
    total = plan.total
    percent = plan.savings_percent
    basis = "cost" if total.baseline_cost is not None else "GPU-hours"
    lines.append(
        f"Totals: GPU-hours {_hours(total.baseline_gpu_hours)} -> {_hours(total.planned_gpu_hours)} "
        f"(saved {_hours(total.saved_gpu_hours)}); cost {_money(total.baseline_cost)} -> {_money(total.planned_cost)} "
        f"(saved {_money(total.saved_cost)}); saving "
        + (f"{percent:.1f} % of {basis}" if percent is not None else "n/a")
    )
    return "\n".join(lines)


def _deployment_block(entry: DeploymentPlan) -> list[str]:
    deployment = entry.deployment
    accelerator = f"{deployment.accelerator} x{deployment.accelerator_count}"
    if entry.conflict:
        governed = f"CONFLICT between {', '.join(entry.conflict)} (same priority): left alone"
    elif entry.policy is None:
        governed = "no policy: left alone"
    else:
        governed = f"policy {entry.policy} ({entry.timezone})"
    lines = [f"{deployment.deployment_name}  {accelerator}  {governed}"]
    if entry.policy is not None:
        tz = zone(entry.timezone)
        for transition in entry.transitions:
            lines.append(f"  {_local(transition.at, tz)}  {_utc(transition.at)}  {_state(transition):<14} {transition.source}")
    usage = entry.usage
    lines.append(
        f"  GPU-hours {_hours(usage.baseline_gpu_hours)} -> {_hours(usage.planned_gpu_hours)}; "
        f"cost {_money(usage.baseline_cost)} -> {_money(usage.planned_cost)}"
    )
    return lines


def _state(transition: Transition) -> str:
    return "unchanged" if transition.state is None else transition.state.describe()


def _local(instant: datetime, tz) -> str:
    return instant.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z").ljust(26)


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _hours(value: float) -> str:
    return f"{value:,.1f}"


def _money(value: float | None) -> str:
    if value is None:
        return "unknown (no price)"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"
