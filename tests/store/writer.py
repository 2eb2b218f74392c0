"""A store writer for the crash test, run as ``python -m tests.store.writer URL FIRST_CYCLE``.

Loops forever over cycles: begin an action, record a whole health poll, finish the
action with its applied state. After each call returns (committed) it prints one line:
``begun ID CYCLE``, ``health CYCLE``, ``finished ID CYCLE``. The test kills it with
SIGKILL at some point and checks that everything printed is in the database.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from uuid import UUID

from scaler.logs import configure_logging
from scaler.store import ActionIntent, AppliedState, open_store
from tests.store.conftest import T0

DEPLOYMENTS = 2000


def deployment_of(cycle: int) -> UUID:
    """The deployment acted on in ``cycle``."""
    return UUID(int=cycle % DEPLOYMENTS + 1)


def kind_of(cycle: int) -> str:
    """The state applied in ``cycle``."""
    return "stopped" if cycle % 2 else "running"


def main(url: str, first_cycle: int) -> None:
    """Write cycles from ``first_cycle`` on until killed."""
    configure_logging(log_format="json", log_level="warning")
    every = [UUID(int=i + 1) for i in range(DEPLOYMENTS)]
    with open_store(url) as store:
        cycle = first_cycle
        while True:
            now = T0 + timedelta(minutes=cycle)
            action_id = store.begin_action(
                ActionIntent(deployment_of(cycle), f"d{cycle}", "stop", now, {"cycle": cycle}, "crash test")
            )
            print(f"begun {action_id} {cycle}", flush=True)
            store.record_health([(d, "Healthy" if cycle % 2 else "Degraded", now) for d in every])
            print(f"health {cycle}", flush=True)
            store.finish_action(
                action_id,
                result="success",
                finished_at=now,
                applied=AppliedState(kind_of(cycle), now),  # type: ignore[arg-type]
            )
            print(f"finished {action_id} {cycle}", flush=True)
            cycle += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
