"""A simulator of the Simplismart platform for development, tests, the demo and benchmarks.

It keeps its own plain data and never imports the client, so each can catch the other's
mistakes. Build one with ``create_app(SimState.from_seed(load_seed(DEFAULT_SEED_PATH)))``
(see :mod:`scaler.sim.app`, :mod:`scaler.sim.state`, :mod:`scaler.sim.seed`).
"""

from scaler.sim.constants import DEFAULT_ORG_ID, DEFAULT_TOKEN

__all__ = ["DEFAULT_ORG_ID", "DEFAULT_TOKEN"]
