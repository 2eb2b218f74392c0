"""A simulation's report as text for people: the actions in time order, a line per deployment,
the totals, the difference from the plan by cause, peak readiness and a comparison."""

from __future__ import annotations

from typing import Any

_TIME = slice(0, 16)


def _at(text: str) -> str:
    """``2026-12-07T08:40:00Z`` as ``2026-12-07 08:40Z``."""
    return text[_TIME].replace("T", " ") + "Z"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _money(value: float | None) -> str:
    if value is None:
        return "unknown"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _values(action: dict[str, Any]) -> str:
    if action["min_replicas"] is None:
        return ""
    return f"{action['min_replicas']}..{action['max_replicas']}"


def render_report(report: dict[str, Any], *, requests: int | None = None) -> str:
    """Return the report as text (see the module's docstring)."""
    entries = report["deployments"]
    actions = sorted(
        ((action, entry["deployment_name"]) for entry in entries for action in entry["actions"]),
        key=lambda item: (item[0]["at"], item[1]),
    )
    asked = f"; {requests:,} platform requests" if requests is not None else ""
    lines = [
        f"Simulated {_at(report['from'])} until {_at(report['until'])}: {len(entries)} deployments, "
        f"{len(actions)} actions{asked}",
        "",
        "Actions",
    ]
    name_width = max((len(entry["deployment_name"]) for entry in entries), default=10)
    for action, name in actions:
        lines.append(
            f"  {_at(action['at'])}  {name:<{name_width}}  {action['action']:<15} {_values(action):<6} "
            f"{action['result']:<8} {action['reason']}"
        )
    if not actions:
        lines.append("  (none)")
    lines += ["", "GPU-hours per deployment (baseline, planned, realized by the platform, counted by the scaler)"]
    header = f"  {'deployment':<{name_width}}  {'baseline':>9} {'planned':>9} {'realized':>9} {'counted':>9}  peaks ready"
    lines.append(header)
    for entry in entries:
        hours, peaks = entry["gpu_hours"], entry["peak_readiness"]
        ready = f"{peaks['ready_at_start']}/{peaks['windows']}" if peaks["windows"] else "-"
        lines.append(
            f"  {entry['deployment_name']:<{name_width}}  {_hours(hours['baseline']):>9} {_hours(hours['planned']):>9} "
            f"{_hours(hours['realized']):>9} {_hours(hours['counted']):>9}  {ready}"
        )
    totals = report["totals"]
    hours, cost, percent = totals["gpu_hours"], totals["cost"], totals["savings_percent"]
    difference, peaks = totals["difference"], totals["peak_readiness"]
    lines += [
        "",
        f"Totals: GPU-hours baseline {_hours(hours['baseline'])}, planned {_hours(hours['planned'])}, "
        f"realized {_hours(hours['realized'])}, counted {_hours(hours['counted'])}",
        f"        cost baseline {_money(cost['baseline'])}, planned {_money(cost['planned'])}, "
        f"realized {_money(cost['realized'])}, counted {_money(cost['counted'])}",
        f"        saving planned {_percent(percent['planned'])}, realized {_percent(percent['realized'])}, "
        f"counted {_percent(percent['counted'])}",
        f"Realized - planned: {_hours(difference['gpu_hours'])} GPU-hours (health rules {_hours(difference['health_rules'])}, "
        f"start-up {_hours(difference['start_up'])}, refusals {_hours(difference['refusals'])}, "
        f"deferrals {_hours(difference['deferrals'])}, "
        f"other {_hours(difference['other'])})",
        f"Peak readiness: {peaks['ready_at_start']} of {peaks['windows']} windows started Healthy; "
        f"{peaks['warmup_gpu_minutes']:,.0f} GPU-minutes of warm-up",
    ]
    comparison = report.get("comparison")
    if comparison is not None:
        lines += ["", *render_comparison(comparison)]
    return "\n".join(lines)


def render_comparison(comparison: dict[str, Any]) -> list[str]:
    """The comparison with ``--compare-to`` as lines of text."""
    lines = ["Compared with --compare-to (policies -> compare-to)"]
    for entry in comparison["deployments"]:
        hours, ready = entry["realized_gpu_hours"], entry["peaks_ready_at_start"]
        lines.append(
            f"  {entry['deployment_name']}: realized GPU-hours {_hours(hours['policies'])} -> {_hours(hours['compare_to'])}, "
            f"peaks ready {ready['policies']} -> {ready['compare_to']}"
        )
        for side, sign in (("only_policies", "-"), ("only_compare_to", "+")):
            for action in entry["actions"][side]:
                lines.append(f"    {sign} {_at(action['at'])} {action['action']} {_values(action)} {action['result']}".rstrip())
    if not comparison["deployments"]:
        lines.append("  no deployment's outcome differs")
    totals = comparison["totals"]
    lines.append(
        f"  Totals: realized GPU-hours {_hours(totals['realized_gpu_hours']['policies'])} -> "
        f"{_hours(totals['realized_gpu_hours']['compare_to'])}, cost {_money(totals['realized_cost']['policies'])} -> "
        f"{_money(totals['realized_cost']['compare_to'])}, peaks ready {totals['peaks_ready_at_start']['policies']} -> "
        f"{totals['peaks_ready_at_start']['compare_to']}"
    )
    return lines
