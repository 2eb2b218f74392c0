"""The /metrics benchmark, run small: its series per deployment in each detail (never its timings)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def printed() -> str:
    """The output of one run over 100 and 300 deployments, one render each."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "metrics_scrape.py"), "--deployments", "100", "300", "--repeat", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert 0 == run.returncode, run.stdout + run.stderr
    return run.stdout


def _rows(printed: str) -> dict[tuple[int, str], int]:
    """Series of each (deployments, detail) row of the printed table."""
    rows = {}
    for line in printed.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 8 and cells[0].replace(",", "").isdigit():
            rows[(int(cells[0].replace(",", "")), cells[1])] = int(cells[2].replace(",", ""))
    return rows


def test_series_per_deployment_in_each_detail(printed: str) -> None:
    """At 100 and at 300 deployments, each deployment adds 24 to 26 series in full (bounds come and go) and 6
    or 7 in compact (health absent until observed; docs/metrics.md promises at most 7), counted against off."""
    rows = _rows(printed)
    per_deployment = {
        (count, detail): round((rows[(count, detail)] - rows[(count, "off")]) / count, 1)
        for count in (100, 300)
        for detail in ("full", "compact")
    }
    ranges = {"full": (24, 26), "compact": (6, 7)}
    assert {} == {key: value for key, value in per_deployment.items()
                  if not ranges[key[1]][0] <= value <= ranges[key[1]][1]}


def test_off_names_no_deployment() -> None:
    """The benchmark's off scrape, filled as the daemon fills it, has no series labelled by deployment."""
    spec = importlib.util.spec_from_file_location("metrics_scrape", ROOT / "bench" / "metrics_scrape.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclass looks its module up there
    spec.loader.exec_module(bench)
    body = bench.filled_metrics(50, "off").exposition().decode()
    assert [] == [line for line in body.splitlines() if "deployment_id=" in line]


def test_prints_the_command_that_reproduces_it(printed: str) -> None:
    """The output ends with the command line that gives the same figures."""
    assert printed.rstrip().endswith(
        "reproduce: .venv/bin/python bench/metrics_scrape.py --deployments 100 300 --repeat 1"
    )
