"""The scale benchmark's harness, run small (``--quick``): every figure is measured and every call arrives.

A correctness check of the harness only: its figures depend on the machine and its load,
so none is compared with a target here (``make bench`` measures them at full scale).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The JSON of one quick run (1,000 deployments, 5 ms latency, phases of a few seconds)."""
    output = tmp_path_factory.mktemp("scale") / "scale.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale_bench.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert 0 == run.returncode, run.stdout + run.stderr
    return json.loads(output.read_text())


def test_every_figure_is_measured(result: dict) -> None:
    """The six figures and the machine are in the JSON, each with a value."""
    figures = result["figures"]
    measured = {
        "health_poll_ratio": figures["health_poll"]["ratio"],
        "health_cpu_ms": figures["cpu_per_deployment"]["health_ms"],
        "reconcile_cpu_ms": figures["cpu_per_deployment"]["reconcile_ms"],
        "peak_rss_mib": figures["peak_rss"]["mib"],
        "batch_last_call_seconds": figures["boundary_batch"].get("last_call_seconds"),
        "boundary_p99_seconds": figures["boundary_precision"].get("p99_seconds"),
        "requests_per_hour": figures["requests_per_hour"]["requests_per_hour"],
        "naive_per_hour": figures["requests_per_hour"]["naive_per_hour"],
        "load_average_end": result["machine"]["load_average_end"],
    }
    assert [] == [name for name, value in measured.items() if value is None]


def test_every_boundary_call_arrives_once_and_succeeds(result: dict) -> None:
    """The batch's 100 stops and the 20 boundaries' stops all reach the simulator and succeed."""
    batch, edges = result["figures"]["boundary_batch"], result["figures"]["boundary_precision"]
    assert (100, 100, 20, 20, 20) == (
        batch["calls_arrived"],
        batch["calls_ok"],
        edges["calls_arrived"],
        edges["calls_ok"],
        len(edges["delays"]),
    )


def test_the_naive_design_is_every_deployment_every_health_interval(result: dict) -> None:
    """The naive figure: 1,000 health requests every 1 s health interval, plus a list every 2 s, per hour."""
    assert 1000 * 3600 + 1800 == result["figures"]["requests_per_hour"]["naive_per_hour"]
