"""The simulation's timeline of scripted events: each event as the changes it makes to the simulator, in order.

A scripted event (:mod:`scaler.simulation.events`) becomes one or two changes at instants
(a Degraded spell begins and ends, a quota is set and restored); :class:`Timeline` keeps
them in instant order, with the deployment whose health answers each one changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from scaler.sim.clock import ManualClock
from scaler.sim.model import HealthAnswer
from scaler.sim.state import SimState
from scaler.simulation.events import ScriptedEvent


class Timeline:
    """Changes to make to the simulator at instants, in order (ties in the order they were added)."""

    def __init__(self, sim: SimState, clock: ManualClock) -> None:
        self._sim = sim
        self._clock = clock
        self._pending: list[tuple[datetime, int, Callable[[], None], str | None]] = []
        self._sequence = 0

    def at(self, instant: datetime, action: Callable[[], None], touches: str | None = None) -> None:
        """Run ``action`` at ``instant``; it changes the health answers of ``touches`` (``None``: maybe anyone's)."""
        self._sequence += 1
        self._pending.append((instant, self._sequence, action, touches))
        self._pending.sort(key=lambda item: (item[0], item[1]))

    def next_instant(self) -> datetime | None:
        """The instant of the next change, ``None`` when none is left."""
        return self._pending[0][0] if self._pending else None

    def due(self, instant: datetime) -> Iterator[str | None]:
        """Make the changes due at or before ``instant``, in order; yield, after each, whose answers it touched."""
        while self._pending and self._pending[0][0] <= instant:
            _, _, action, touches = self._pending.pop(0)
            action()
            yield touches

    def script(self, event: ScriptedEvent) -> None:
        """Add the changes of ``event``."""
        {"health": self._health, "startup": self._startup, "quota": self._quota}.get(event.kind, self._wallet)(event)

    def _health(self, event: ScriptedEvent) -> None:
        sim = self._sim
        deployment = sim.deployments[event.deployment_id or ""]
        answer = HealthAnswer(event.value)

        def set_health() -> None:
            sim.set_health(deployment, answer)

        def clear_health() -> None:
            if deployment.health is answer:  # a stop or a restart has cleared it already
                sim.set_health(deployment, None)

        self.at(event.at, set_health, deployment.deployment_id)
        if event.lasts is not None:
            self.at(event.at + event.lasts, clear_health, deployment.deployment_id)

    def _startup(self, event: ScriptedEvent) -> None:
        sim = self._sim
        deployment = sim.deployments[event.deployment_id or ""]

        def set_startup() -> None:
            deployment.startup_seconds = float(event.value)
            sim.timing_changed(deployment, self._clock())

        self.at(event.at, set_startup, deployment.deployment_id)

    def _quota(self, event: ScriptedEvent) -> None:
        sim = self._sim
        previous: dict[str, int | None] = {}

        def set_quotas() -> None:
            for name, gpus in event.value.items():
                previous[name] = sim.quotas.get(name)
                _set_quota(sim, name, gpus)

        def restore_quotas() -> None:
            for name, gpus in previous.items():
                _set_quota(sim, name, gpus)

        self.at(event.at, set_quotas)
        if event.lasts is not None:
            self.at(event.at + event.lasts, restore_quotas)

    def _wallet(self, event: ScriptedEvent) -> None:
        sim = self._sim
        blocked = event.value == "blocked"

        def set_wallet() -> None:
            sim.wallet_blocked = blocked

        def unblock() -> None:
            sim.wallet_blocked = False

        self.at(event.at, set_wallet)
        if blocked and event.lasts is not None:
            self.at(event.at + event.lasts, unblock)


def _set_quota(sim: SimState, accelerator: str, gpus: int | None) -> None:
    if gpus is None:
        sim.quotas.pop(accelerator, None)
    else:
        sim.quotas[accelerator] = gpus
