"""The simulated organization the real daemon is proven against: its seed, its policies, its processes.

``organization/seed.yaml`` is served by ``scaler sim``; ``organization/policies/`` governs
it. Nothing in either depends on the time of day, so every dashboard panel has data
whenever the tests run: a deployment held at bounds (with a next transition), one
stopped (saving GPUs and dollars), one nobody governs, one a person stopped. The daemon's
store holds a person's override of nightly-batch to the state its policy gives it anyway,
stopped (:func:`record_override`), so the override series exist without changing what is
done; its next change is then the override's end.
:data:`LATE_DEPLOYMENT` is added while Prometheus watches, so that the daemon acts
(stops it) in front of it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

from scaler.store import ExceptionRecord, open_store
from tests.processes import scaler_command

ORGANIZATION = Path(__file__).resolve().parent / "organization"
SEED = ORGANIZATION / "seed.yaml"
POLICIES = ORGANIZATION / "policies"

#: Seconds between the daemon's reconcile cycles and health polls in the proofs (the least allowed).
FAST_INTERVAL_SECONDS = "1"

#: A deployment ``always-stopped`` governs, added to the simulator while Prometheus scrapes.
LATE_DEPLOYMENT: dict[str, Any] = {
    "deployment_id": "5a3c8e21-0f6b-4d7a-8c19-2e4b6d8f0a21",
    "deployment_name": "nightly-late",
    "accelerator_type": ["nvidia-a100"],
    "accelerator_count": 1,
    "status": "DEPLOYED",
    "min_replicas": 1,
    "max_replicas": 1,
}


#: nightly-batch, which always-stopped keeps stopped.
OVERRIDDEN_ID = "5a3c8e21-0f6b-4d7a-8c19-2e4b6d8f0a12"
#: How long its override lasts from the daemon's start.
OVERRIDE_LENGTH = timedelta(days=29)


def record_override(state_url: str) -> None:
    """Create the daemon's store at ``state_url`` holding an override of nightly-batch to stopped for 29 days."""
    now = datetime.now(UTC)
    override = ExceptionRecord(
        id="dashboard-override", kind="override", target_kind="deployment", target=OVERRIDDEN_ID,
        target_name="nightly-batch", deployment_ids=(UUID(OVERRIDDEN_ID),), created_at=now,
        until=now + OVERRIDE_LENGTH, reason="the override series exist", created_by="deploy-tests",
        state="stopped",
    )  # fmt: skip
    with open_store(state_url) as store:
        store.create_exception(override)


def seed_document() -> dict[str, Any]:
    """Return the seed, parsed."""
    return yaml.safe_load(SEED.read_text())


def sim_command(port: int) -> list[str]:
    """``scaler sim`` serving the seed on 127.0.0.1:``port``."""
    return scaler_command("sim", "--port", str(port), "--seed", str(SEED))


def daemon_settings(
    *,
    api_url: str,
    state_dir: Path,
    http_port: int,
    policy_path: Path = POLICIES,
    token_file: Path | None = None,
) -> dict[str, str]:
    """The ``SCALER_*`` variables of a daemon against the simulated organization at ``api_url``.

    Short intervals (1 s) make every series move within seconds. The token is given as
    a file when ``token_file`` is set (it must hold the seed's token), inline otherwise.
    """
    seed = seed_document()
    settings = {
        "SCALER_API_URL": api_url,
        "SCALER_ORG_ID": seed["org_id"],
        "SCALER_POLICY_PATH": str(policy_path),
        "SCALER_STATE_URL": f"sqlite:///{state_dir / 'state.db'}",
        "SCALER_HTTP_HOST": "127.0.0.1",
        "SCALER_HTTP_PORT": str(http_port),
        "SCALER_RECONCILE_INTERVAL_SECONDS": FAST_INTERVAL_SECONDS,
        "SCALER_HEALTH_INTERVAL_SECONDS": FAST_INTERVAL_SECONDS,
        "SCALER_HEALTH_IDLE_INTERVAL_SECONDS": FAST_INTERVAL_SECONDS,
        "SCALER_LOG_FORMAT": "json",
        # The daemon acts on LATE_DEPLOYMENT as soon as it appears, in front of Prometheus.
        "SCALER_NEW_DEPLOYMENT_GRACE_SECONDS": "0",
    }
    if token_file is not None:
        settings["SCALER_API_TOKEN_FILE"] = str(token_file)
    else:
        settings["SCALER_API_TOKEN"] = seed["token"]
    return settings


def add_deployment(sim_url: str, deployment: Mapping[str, Any]) -> None:
    """Add ``deployment`` (seed shape) to the simulator at ``sim_url`` through its control API."""
    request = urllib.request.Request(
        f"{sim_url}/_sim/deployments",
        data=json.dumps(dict(deployment)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
