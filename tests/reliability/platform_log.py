"""What the simulated platform went through, read from its own request log: each deployment's state
changes (running or not, replica bounds), and the re-sends that changed nothing.

The platform's state of each deployment is followed from the seed through every 2xx mutating
request; a request that changes it is a change, one that leaves it as it was is a re-send: a
retry after an answer lost on the way back, a step of a plan sent again after a later step
failed, an interrupted ``update-replicas`` sent again. Re-sends are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scaler.sim.model import SeedDocument

#: The platform's state of one deployment: running or not, replica bounds.
State = tuple[bool, int, int]


@dataclass(frozen=True)
class Change:
    """One change of a deployment's state on the platform, and when the request that made it arrived."""

    at: datetime
    before: State
    after: State

    @property
    def action(self) -> str:
        """``start``, ``stop`` or ``update_replicas N..M``: the request that made the change."""
        if self.after[0] != self.before[0]:
            return "start" if self.after[0] else "stop"
        return f"update_replicas {self.after[1]}..{self.after[2]}"


@dataclass(frozen=True)
class PlatformLog:
    """Each deployment's seed state and changes by name, and how many requests were re-sends."""

    seeded: dict[str, State]
    changes: dict[str, list[Change]]
    resends: int

    def states(self, name: str) -> list[State]:
        """The states ``name`` went through, the seed's first."""
        return [self.seeded[name], *(change.after for change in self.changes[name])]

    def state_before(self, name: str, instant: datetime) -> State:
        """The state of ``name`` just before ``instant`` (a change at ``instant`` not yet made)."""
        state = self.seeded[name]
        for change in self.changes[name]:
            if change.at >= instant:
                break
            state = change.after
        return state


def read_platform_log(requests: Iterable[Any], seed: SeedDocument) -> PlatformLog:
    """Follow every seeded deployment through the simulator's request log (``SimState.requests``)."""
    state = {item.deployment_id: (item.running, item.min_replicas, item.max_replicas) for item in seed.deployments}
    names = {item.deployment_id: item.deployment_name for item in seed.deployments}
    seeded = {names[key]: value for key, value in state.items()}
    changes: dict[str, list[Change]] = {name: [] for name in names.values()}
    resends = 0
    for entry in requests:
        if entry.endpoint not in ("update_replicas", "startstop") or not 200 <= (entry.status or 0) < 300:
            continue
        deployment_id = entry.deployment_id or ""
        body = entry.body if isinstance(entry.body, dict) else {}
        before = state[deployment_id]
        if entry.endpoint == "startstop":
            after = (body.get("action") == "start", before[1], before[2])
        else:
            after = (before[0], int(body["min_replicas"]), int(body["max_replicas"]))
        if after == before:
            resends += 1
            continue
        state[deployment_id] = after
        changes[names[deployment_id]].append(Change(datetime.fromisoformat(entry.timestamp), before, after))
    return PlatformLog(seeded, changes, resends)
