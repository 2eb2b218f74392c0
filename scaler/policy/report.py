"""The plan as text for people: each deployment's transitions in local and UTC time, the dates
a skip date, holiday or calendar event keeps a window closed (by name), and the totals (a
negative saving reads as an added cost)."""

from __future__ import annotations

from datetime import datetime, time

from scaler.policy.durations import format_duration
from scaler.policy.forecast import DeploymentPlan, Forecast, SkippedDate, Transition
from scaler.policy.skipdays import SKIP_DATE
from scaler.policy.zones import UTC, local_instant, zone


def render_plan_table(plan: Forecast) -> str:
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
        f"({_hours_saved(total.saved_gpu_hours)}); cost {_money(total.baseline_cost)} -> {_money(total.planned_cost)} "
        f"({_money_saved(total.saved_cost)}); {_percent_saved(percent, basis)}"
    )
    return "\n".join(lines)


def _hours_saved(value: float) -> str:
    return f"adds {_hours(-value)}" if round(value, 1) < 0 else f"saved {_hours(value)}"


def _money_saved(value: float | None) -> str:
    if value is not None and round(value, 2) < 0:
        return f"costs +{_money(-value)}"
    return f"saved {_money(value)}"


def _percent_saved(percent: float | None, basis: str) -> str:
    if percent is None:
        return "saving n/a"
    if round(percent, 1) < 0:
        return f"adds {-percent:.1f} % to {basis}"
    return f"saving {percent:.1f} % of {basis}"


def _deployment_block(entry: DeploymentPlan) -> list[str]:
    deployment = entry.deployment
    accelerator = f"{deployment.accelerator} x{deployment.accelerator_count}"
    if entry.conflict:
        governed = f"CONFLICT between {', '.join(entry.conflict)} (same priority): left alone"
    elif entry.policy is None:
        governed = "no policy: left alone"
    else:
        governed = f"policy {entry.policy} ({entry.timezone})"
        if entry.grace_until is not None:
            governed += f", new: left alone until its grace period ends at {_utc(entry.grace_until)}"
    lines = [f"{deployment.deployment_name}  {accelerator}  {governed}"]
    for name, in_use in entry.lead_times.items():
        lines.append(f"  lead time of window {name}: {format_duration(in_use.value)} ({in_use.source})")
    for exception in entry.exceptions:
        state = f" {exception.state.describe()}" if exception.state is not None else ""
        lines.append(
            f"  {exception.kind}{state} ({exception.id}) from {_utc(exception.start)} until {_utc(exception.end)}"
            f" by {exception.by}: {exception.reason}"
        )
    if entry.policy is not None:
        tz = zone(entry.timezone)
        rows: list[tuple[datetime, str]] = [
            (
                transition.at,
                f"  {_local(transition.at, tz)}  {_utc(transition.at)}  {_state(transition):<14} {transition.source}",
            )
            for transition in entry.transitions
        ]
        for skipped in entry.skipped_dates:
            rows.append((local_instant(skipped.day, time(0), tz), _skipped_line(skipped)))
        lines.extend(line for _, line in sorted(rows, key=lambda row: row[0]))
    usage = entry.usage
    lines.append(
        f"  GPU-hours {_hours(usage.baseline_gpu_hours)} -> {_hours(usage.planned_gpu_hours)}; "
        f"cost {_money(usage.baseline_cost)} -> {_money(usage.planned_cost)}"
    )
    return lines


def _skipped_line(skipped: SkippedDate) -> str:
    windows = ", ".join(skipped.windows)
    verb = "does" if len(skipped.windows) == 1 else "do"
    noun = "window" if len(skipped.windows) == 1 else "windows"
    reason = SKIP_DATE if skipped.names in ((), (SKIP_DATE,)) else f"skipped: {', '.join(skipped.names)}"
    return f"  {skipped.day:%a %Y-%m-%d}  {reason}: {noun} {windows} {verb} not open"


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
