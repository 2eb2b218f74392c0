"""The simulated organization the real daemon is proven against: its seed, its policies, its processes.

``organization/seed.yaml`` is served by ``scaler sim``; ``organization/policies/`` governs
it. Nothing in either depends on the time of day, so every dashboard panel has data
whenever the tests run: a deployment held at bounds (with a next transition), one
stopped (saving GPUs and dollars), one nobody governs, one a person stopped.
:data:`LATE_DEPLOYMENT` is added while Prometheus watches, so that the daemon acts
(stops it) in front of it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

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
