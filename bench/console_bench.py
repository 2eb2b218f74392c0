"""Benchmark of the console's overview: 10,000 deployments under 20 policies, rendered server-side, on one core.

Run:  .venv/bin/python bench/console_bench.py  [--deployments 10000] [--policies 20] [--repeat 5]

It writes the policies and the inventory of ``bench/plan_bench.py``, resolves every deployment
as the daemon's cycle does and builds its ``/status`` entry (:func:`scaler.daemon.status.deployment_status`),
then serves the console's ASGI app (:func:`scaler.daemon.http.create_http_app`, no keys: read-only)
in-process and times, pinned to one CPU:

- the plan figures (the next 24 h; :func:`scaler.daemon.console.page_data.plan_figures`),
  which the console computes in the background after a new inventory or policy set;
- ``GET /`` with those figures already computed (every later view within the minute): filter,
  sort and render of the first page of 100 rows;
- ``GET /?q=team07&sort=saved_week&order=desc`` (a filtered, sorted view);
- ``GET /`` of a console just started (the one view that waits for the plan figures; later ones
  use the last figures while new ones are computed in the background).

The figures printed are the median and the worst of ``--repeat`` requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_bench import write_inputs  # noqa: E402 - the bench directory is no package

from scaler.daemon.api.keys import KeyRing  # noqa: E402
from scaler.daemon.console.page_data import plan_figures  # noqa: E402
from scaler.daemon.http import create_http_app  # noqa: E402
from scaler.daemon.realized_savings import running_gpus  # noqa: E402
from scaler.daemon.status import DeploymentView, deployment_status  # noqa: E402
from scaler.metrics import Metrics  # noqa: E402
from scaler.policy import PolicySet, resolve_desired_state  # noqa: E402
from scaler.policy.loader import load_policy_set  # noqa: E402
from scaler.simplismart.models import Deployment  # noqa: E402
from scaler.store import open_store  # noqa: E402

#: The overview of 10,000 deployments renders in under 1 s server-side: an operator opening the
#: console during an incident must not wait on it.
GOAL_SECONDS = 1.0
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


class BenchDaemon:
    """The facts the console asks the daemon, for a resolved inventory (read-only: no keys)."""

    def __init__(self, policy_set: PolicySet, deployments: list[Deployment], state: Path) -> None:
        self.policy_set = policy_set
        self.deployments = deployments
        self.keys = KeyRing(None)
        self.store = open_store(f"sqlite:///{state}")
        self.listed_at = NOW
        zones = {policy.name: policy.timezone for policy in policy_set.policies}
        self.documents: list[dict[str, Any]] = []
        for deployment in deployments:
            resolution = resolve_desired_state(policy_set, deployment, now=NOW)
            view = DeploymentView(deployment, resolution=resolution, considered_at=NOW)
            self.documents.append(deployment_status(view, timezone=zones.get(resolution.policy or "")))

    def clock(self) -> datetime:
        return NOW

    async def deployment_documents(self) -> list[dict[str, Any]]:
        return self.documents

    def deployment_names(self) -> dict[UUID, str]:
        return {d.deployment_id: d.deployment_name for d in self.deployments}

    def governed_by(self, policy: str) -> list[UUID] | None:
        return None

    def exceptions_changed(self) -> None:
        return None

    def planning_inputs(self) -> tuple[PolicySet | None, list[Deployment], datetime | None]:
        return self.policy_set, self.deployments, self.listed_at

    def running_gpus(self) -> dict[str, int]:
        return running_gpus((d, None, 1) for d in self.deployments)

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    async def status_document(self) -> dict[str, Any]:
        return {}


def describe(label: str, seconds: list[float]) -> str:
    return f"  {label:<58} median {statistics.median(seconds) * 1000:8.1f} ms   worst {max(seconds) * 1000:8.1f} ms"


async def measure(daemon: BenchDaemon, repeat: int) -> dict[str, list[float]]:
    app = create_http_app(daemon, Metrics())  # type: ignore[arg-type]
    results: dict[str, list[float]] = {"figures": [], "warm": [], "filtered": [], "cold": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon") as http:
        await http.get("/")  # templates compiled, figures computed once
        for _ in range(repeat):
            started = time.perf_counter()
            plan_figures(daemon.policy_set, daemon.deployments, NOW)
            results["figures"].append(time.perf_counter() - started)
            for key, path in (("warm", "/"), ("filtered", "/?q=team07&sort=saved_week&order=desc")):
                started = time.perf_counter()
                response = await http.get(path)
                results[key].append(time.perf_counter() - started)
                assert 200 == response.status_code, response.text[:500]
    for _ in range(repeat):  # the first view after a start: it waits for the plans
        app = create_http_app(daemon, Metrics())  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon") as http:
            started = time.perf_counter()
            response = await http.get("/")
            results["cold"].append(time.perf_counter() - started)
            assert 200 == response.status_code
    return results


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        policy_dir, inventory_path = write_inputs(directory, args.deployments, args.policies)
        policy_set = load_policy_set([policy_dir])
        deployments = [Deployment.model_validate(item) for item in json.loads(inventory_path.read_text())]
        daemon = BenchDaemon(policy_set, deployments, directory / "state.db")
        results = asyncio.run(measure(daemon, args.repeat))
        daemon.store.close()
    print(f"console overview: {args.deployments} deployments, {args.policies} policies, "
          f"Python {platform.python_version()}, one CPU, {args.repeat} runs")  # fmt: skip
    print(describe("plan figures (next 24 h, with exceptions), in the background", results["figures"]))
    print(describe("GET / (figures ready: every later view)", results["warm"]))
    print(describe("GET /?q=team07&sort=saved_week&order=desc", results["filtered"]))
    print(describe("GET / of a console just started (waits for the figures)", results["cold"]))
    verdict = "meets" if statistics.median(results["warm"]) < GOAL_SECONDS else "MISSES"
    print(f"  goal: the overview under {GOAL_SECONDS:g} s server-side: {verdict} it (GET /, figures ready)")
    print(f"  run again: .venv/bin/python bench/console_bench.py --deployments {args.deployments} "
          f"--policies {args.policies} --repeat {args.repeat}")  # fmt: skip


if __name__ == "__main__":
    run()
