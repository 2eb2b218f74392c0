"""Two simulations of the same organization and events side by side (``--compare-to``).

For each deployment whose outcome differs: the actions only one of the runs took (at the
same instant, with the same values and result), realized GPU-hours and cost, and how
many peak windows started Healthy; then the organization's totals. ``policies`` is the
run of ``--policies``, ``compare_to`` the run of ``--compare-to``, and ``change`` is
``compare_to - policies``.
"""

from __future__ import annotations

from typing import Any

_DIGITS = 6


def _key(action: dict[str, Any]) -> tuple[Any, ...]:
    return (action["at"], action["action"], action["min_replicas"], action["max_replicas"], action["result"])


def _pair(left: float | None, right: float | None) -> dict[str, float | None]:
    change = None if left is None or right is None else round(right - left, _DIGITS) + 0.0
    return {"policies": left, "compare_to": right, "change": change}


def compare_reports(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Return the comparison of report ``ours`` (``--policies``) with ``theirs`` (``--compare-to``)."""
    other = {entry["deployment_id"]: entry for entry in theirs["deployments"]}
    deployments = []
    for entry in ours["deployments"]:
        counterpart = other.get(entry["deployment_id"])
        if counterpart is None:
            continue
        mine = {_key(action) for action in entry["actions"]}
        yours = {_key(action) for action in counterpart["actions"]}
        only_ours = [action for action in entry["actions"] if _key(action) not in yours]
        only_theirs = [action for action in counterpart["actions"] if _key(action) not in mine]
        hours = _pair(entry["gpu_hours"]["realized"], counterpart["gpu_hours"]["realized"])
        cost = _pair(entry["cost"]["realized"], counterpart["cost"]["realized"])
        ready = _pair(entry["peak_readiness"]["ready_at_start"], counterpart["peak_readiness"]["ready_at_start"])
        windows = _pair(entry["peak_readiness"]["windows"], counterpart["peak_readiness"]["windows"])
        same = not only_ours and not only_theirs and hours["change"] == 0 and ready["change"] == 0
        if same and windows["change"] == 0 and entry["policy"] == counterpart["policy"]:
            continue
        deployments.append(
            {
                "deployment_id": entry["deployment_id"],
                "deployment_name": entry["deployment_name"],
                "policy": {"policies": entry["policy"], "compare_to": counterpart["policy"]},
                "actions": {"only_policies": only_ours, "only_compare_to": only_theirs},
                "realized_gpu_hours": hours,
                "realized_cost": cost,
                "peak_windows": windows,
                "peaks_ready_at_start": ready,
            }
        )
    ours_totals, theirs_totals = ours["totals"], theirs["totals"]
    return {
        "deployments": deployments,
        "totals": {
            "realized_gpu_hours": _pair(ours_totals["gpu_hours"]["realized"], theirs_totals["gpu_hours"]["realized"]),
            "realized_cost": _pair(ours_totals["cost"]["realized"], theirs_totals["cost"]["realized"]),
            "realized_savings_percent": _pair(
                ours_totals["savings_percent"]["realized"], theirs_totals["savings_percent"]["realized"]
            ),
            "peaks_ready_at_start": _pair(
                ours_totals["peak_readiness"]["ready_at_start"], theirs_totals["peak_readiness"]["ready_at_start"]
            ),
        },
    }
