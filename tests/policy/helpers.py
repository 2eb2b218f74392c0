"""Builders shared by the policy tests: policies from YAML snippets, instants, deployments."""

from __future__ import annotations

import textwrap
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from scaler.policy.loader import load_policy_text
from scaler.policy.model import Policy
from scaler.policy.policy_set import PolicySet
from scaler.simplismart.models import Deployment

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


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
