"""The Deployment Lifecycle API's endpoints: the name, method and path of each.

The names are the ``endpoint`` label of the client's metrics and log events; a path
holds ``{deployment_id}`` where the call names a deployment. A new endpoint is added
here (and as a method of the client); its series are created with the client's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint: its HTTP method and path template. A ``mutating`` endpoint changes a deployment:
    its calls are fenced by the client's ``may_send`` and given the next free request slot before
    any waiting read."""

    method: str
    path: str
    mutating: bool = False


ENDPOINTS: dict[str, Endpoint] = {
    "list_deployments": Endpoint("GET", "/deployments/list/model/"),
    "get_health": Endpoint("GET", "/deployments/model-deployment/fetch-status/{deployment_id}/"),
    "update_replicas": Endpoint("POST", "/deployments/{deployment_id}/update-replicas/", mutating=True),
    "startstop": Endpoint("POST", "/deployments/{deployment_id}/startstop/", mutating=True),
    "delete": Endpoint("DELETE", "/deployments/{deployment_id}/delete/", mutating=True),
}
