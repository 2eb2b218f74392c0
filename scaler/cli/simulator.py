"""Starting the platform simulator for a command: ``scaler sim`` serves it, ``scaler demo`` runs the daemon on it.

:func:`open_simulator` builds the organization from a seed and binds its port at once (so the
port printed is the real one); :meth:`Simulator.scaler_settings` says how the scaler points at it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from scaler.cli.common import EXIT_USAGE, fail
from scaler.daemon.http import listen, url_of
from scaler.sim.model import SeedDocument
from scaler.sim.state import SimState

#: Connections the simulator's socket queues: benchmarks open many at once.
SIMULATOR_BACKLOG = 2048


def port_option(default: int, help_text: str) -> Callable[[Any], Any]:
    """The ``--port`` option of a command that listens (0 picks a free port)."""
    return click.option(
        "--port", default=default, show_default=True, type=click.IntRange(0, 65535), help=help_text
    )


@dataclass(frozen=True)
class Simulator:
    """A simulated organization and the socket it is to be served on."""

    state: SimState
    listener: socket.socket
    url: str

    def scaler_settings(self) -> dict[str, str]:
        """The settings that point the scaler at this simulator (api_url, api_token, org_id)."""
        return {"api_url": self.url, "api_token": self.state.token, "org_id": self.state.org_id}


def open_simulator(seed: SeedDocument, host: str, port: int, **options: Any) -> Simulator:
    """The organization ``seed`` describes (``options``: those of :meth:`SimState.from_seed`), with a
    socket bound and listening on (host, port); exit 2 when the address cannot be bound."""
    state = SimState.from_seed(seed, **options)
    try:
        listener = listen(host, port)
        listener.listen(SIMULATOR_BACKLOG)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=EXIT_USAGE)
    return Simulator(state, listener, url_of(listener))
