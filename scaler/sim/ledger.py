"""The simulator's ledger: the GPU-seconds each deployment held, from the simulator's own state machine.

What the platform would bill: a deployment holds ``min_replicas x accelerator_count``
GPUs while it is up (active, running, a floor of at least one replica) or being created
(DEPLOYING: its pods are scheduled), from the call that brought it up, not from the
moment it turned Healthy, and none while it is paused,
scaled to zero, failed, being deleted or deleted. :class:`~scaler.sim.state.SimState`
writes an entry whenever one of its lifecycle changes may have changed that figure;
this module knows nothing of the scaler, so it can check what the scaler claims.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class LedgerEntry:
    """From ``at`` on, the deployment holds ``gpus`` GPUs; it is starting until ``ready_at`` (``None``: not starting)."""

    at: datetime
    gpus: int
    ready_at: datetime | None = None


@dataclass
class _History:
    entries: list[LedgerEntry] = field(default_factory=list)
    starts: list[datetime] = field(default_factory=list)


class GpuLedger:
    """Every deployment's GPUs over time, entry by entry (see the module's docstring)."""

    def __init__(self) -> None:
        self._histories: dict[str, _History] = {}

    def record(self, deployment_id: str, at: datetime, gpus: int, ready_at: datetime | None = None) -> None:
        """Note that from ``at`` on ``deployment_id`` holds ``gpus`` GPUs (starting until ``ready_at``).

        An entry that changes nothing is not kept; one at the same instant as the last replaces it.
        """
        history = self._histories.setdefault(deployment_id, _History())
        entry = LedgerEntry(at, gpus, ready_at)
        entries = history.entries
        if entries and entries[-1] == LedgerEntry(entries[-1].at, gpus, ready_at):
            return
        if entries and entries[-1].at == at:
            entries[-1] = entry
            history.starts[-1] = at
            return
        entries.append(entry)
        history.starts.append(at)

    def entries(self, deployment_id: str) -> tuple[LedgerEntry, ...]:
        """The entries of ``deployment_id``, oldest first (empty when it was never recorded)."""
        history = self._histories.get(deployment_id)
        return tuple(history.entries) if history is not None else ()

    def gpus_at(self, deployment_id: str, instant: datetime) -> int:
        """The GPUs ``deployment_id`` holds at ``instant`` (0 before its first entry)."""
        history = self._histories.get(deployment_id)
        if history is None:
            return 0
        index = bisect.bisect_right(history.starts, instant) - 1
        return history.entries[index].gpus if index >= 0 else 0

    def gpu_seconds(self, deployment_id: str, start: datetime, end: datetime) -> float:
        """The GPU-seconds ``deployment_id`` held in ``[start, end)``."""
        return sum(gpus * seconds for gpus, seconds, _ in self.pieces(deployment_id, start, end))

    def pieces(self, deployment_id: str, start: datetime, end: datetime) -> list[tuple[int, float, bool]]:
        """``[start, end)`` cut where the ledger changes: (GPUs, seconds, starting) for each piece, in order."""
        history = self._histories.get(deployment_id)
        if history is None or end <= start:
            return []
        result: list[tuple[int, float, bool]] = []
        entries = history.entries
        index = max(bisect.bisect_right(history.starts, start) - 1, 0)
        while index < len(entries):
            entry = entries[index]
            following = entries[index + 1].at if index + 1 < len(entries) else end
            left, right = max(entry.at, start), min(following, end)
            if entry.at >= end:
                break
            if left < right:
                ready = entry.ready_at
                if ready is not None and left < ready < right:
                    result.append((entry.gpus, (ready - left).total_seconds(), True))
                    result.append((entry.gpus, (right - ready).total_seconds(), False))
                else:
                    starting = ready is not None and left < ready
                    result.append((entry.gpus, (right - left).total_seconds(), starting))
            index += 1
        return result
