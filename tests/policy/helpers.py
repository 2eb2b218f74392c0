"""Builders shared by the policy tests and the policy commands' tests: policies from YAML snippets,
instants, deployments, a policy file, and the environment of a command that calls the simulator."""

from __future__ import annotations

import textwrap
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from scaler.policy.loader import load_policy_text
from scaler.policy.model import Policy
from scaler.policy.policy_set import PolicySet
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.simplismart.models import Deployment

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")

#: A policy file: llama-* deployments run with 1-2 replicas on weekdays 09:00-17:00, stopped otherwise.
OFFICE_FILE = """\
version: 1
policies:
  - name: office
    match: {names: ["llama-*"]}
    default: stopped
    windows:
      - name: day
        between: "Mon-Fri 09:00-17:00"
        state: {min_replicas: 1, max_replicas: 2}
"""

#: A policy file: llama-* deployments stopped except in a daily 09:00-10:00 UTC peak that learns its lead time.
PEAK_AUTO_FILE = """\
version: 1
policies:
  - name: peak
    match: {names: ["llama-*"]}
    default: stopped
    windows:
      - name: peak
        cron: "0 9 * * *"
        duration: 1h
        lead_time: auto
        state: running
"""


def simulator_environment(url: str | None = None) -> dict[str, str | None]:
    """The environment of a command that calls the simulator (at ``url`` when given) with its
    default token and organization, one attempt per call, and the default log level."""
    environment: dict[str, str | None] = {
        "SCALER_API_TOKEN": DEFAULT_TOKEN,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_LOG_LEVEL": None,
        "SCALER_API_RETRY_ATTEMPTS": "1",
    }
    if url is not None:
        environment["SCALER_API_URL"] = url
    return environment


def policy_set(body: str) -> PolicySet:
    """Return the set of a file whose ``policies:`` list is ``body`` (indented YAML, one or more policies)."""
    return load_policy_text("version: 1\npolicies:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n")


def policy(body: str) -> Policy:
    """Return the single policy of ``body`` (a YAML mapping without the leading dash)."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    item = "- " + lines[0] + "\n" + "\n".join("  " + line for line in lines[1:])
    return policy_set(item).policies[0]


def utc(text: str) -> datetime:
    """Return the UTC instant written ``YYYY-MM-DDTHH:MM`` (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: ZoneInfo, fold: int = 0) -> datetime:
    """Return the instant of wall-clock ``text`` in ``tz`` (``fold=1`` for the second of a repeated time), in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold).astimezone(UTC)


def deployment(
    name: str = "llama-3-8b-chat",
    *,
    accelerator: str = "nvidia-l4",
    count: int = 1,
    status: str = "DEPLOYED",
    deployment_id: str | None = None,
    model_repo_id: str | None = None,
    model_repo_name: str | None = None,
) -> Deployment:
    """Return a deployment as the list endpoint would describe it."""
    return Deployment.model_validate(
        {
            "deployment_id": deployment_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
            "deployment_name": name,
            "model_repo_id": model_repo_id,
            "model_repo_name": model_repo_name,
            "accelerator_type": [accelerator],
            "accelerator_count": count,
            "status": status,
        }
    )
