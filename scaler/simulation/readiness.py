"""Peak readiness: the windows that open a running state, each with its nominal start.

A window's nominal start is its ``from`` instant, its cron firing or its ``between``
opening, before ``lead_time`` moves the opening earlier. Whether the deployment was
Healthy then, and the GPU-minutes spent warming up in the lead time before it, say
whether the lead time is long enough for the deployment's start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scaler.policy import PolicySet
from scaler.policy.forecast import Forecast


@dataclass(frozen=True)
class PeakWindow:
    """A window of ``policy`` opening for ``deployment_id``: open from ``opened`` (lead time
    included), nominally from ``nominal_start``."""

    deployment_id: str
    policy: str
    window: str
    opened: datetime
    nominal_start: datetime


def peak_windows(plan: Forecast, policy_set: PolicySet) -> list[PeakWindow]:
    """The windows of ``plan`` that open a running state (``running``, or bounds with a floor of at
    least one replica) after its start, with a nominal start before its end; in time order per deployment."""
    found: list[PeakWindow] = []
    for entry in plan.deployments:
        if entry.policy is None:
            continue
        policy = policy_set.policy(entry.policy)
        if policy is None:
            continue
        windows = {f"window:{window.label}": window for window in policy.windows}
        for transition in entry.transitions[1:]:
            window = windows.get(transition.source)
            state = transition.state
            if window is None or state is None:
                continue
            if state.kind == "stopped" or (state.kind == "bounds" and not state.min_replicas):
                continue
            nominal = transition.at + window.lead_time
            if nominal >= plan.until:
                continue
            found.append(
                PeakWindow(str(entry.deployment.deployment_id), policy.name, window.label, transition.at, nominal)
            )
    return found
