"""The calls of one step sent through the client (``restart``: a stop, then a start), and what a step's
success leaves the deployment showing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scaler.daemon.calls import Step
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import SimplismartError
from scaler.simplismart.models import DeploymentStatus

#: The status a deployment shows once a successful action has taken effect.
STATUS_AFTER = {
    "stop": DeploymentStatus.SCALED_DOWN,
    "start": DeploymentStatus.DEPLOYED,
    "restart": DeploymentStatus.DEPLOYED,
    "delete": DeploymentStatus.DELETING,
}


class StepFailed(Exception):
    """A step's call failed; ``stopped`` when a restart's stop went out before its start failed."""

    def __init__(self, error: SimplismartError, *, stopped: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.stopped = stopped


async def send_step(client: SimplismartClient, step: Step, deployment_id: UUID) -> tuple[str, str | None]:
    """Send the call(s) of ``step``; return the platform's message and the request id.

    Raises :class:`StepFailed` with the client's error.
    """
    try:
        if step.action == "update_replicas":
            answer: Any = await client.update_replicas(deployment_id, step.min_replicas, step.max_replicas)
        elif step.action == "stop":
            answer = await client.stop(deployment_id)
        elif step.action == "start":
            answer = await client.start(deployment_id)
        elif step.action == "delete":
            answer = await client.delete(deployment_id)
        else:
            stopped = await client.stop(deployment_id)
            try:
                answer = await client.start(deployment_id)
            except SimplismartError as error:
                raise StepFailed(error, stopped=True) from None
            return f"{stopped.message}; {answer.message}".strip("; "), answer.request_id
    except SimplismartError as error:
        raise StepFailed(error) from None
    return answer.message, answer.request_id
