"""Fixtures of the deployment tests: the repository's paths, the binaries, the scrape targets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.deploy.prometheus_harness import ScrapeTarget, find_binary, free_port

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "simplismart-scaler"
ALERTS = CHART / "files" / "alerts.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"


def daemon_target_command(port: int) -> list[str]:
    """The command of the process whose ``/metrics`` the dashboard and rules are proven against.

    The one place to switch when the daemon lands: it becomes
    ``["scaler", "demo", "--port", str(port)]``. Until then it is the stand-in that
    serves ``scaler.metrics.Metrics()`` with a healthy scaler's values.
    """
    return [sys.executable, "-m", "tests.deploy.metrics_target", "--port", str(port)]


def troubled_target_command(port: int) -> list[str]:
    """A scaler in every state an alert exists for (always the stand-in: a demo is healthy)."""
    return [sys.executable, "-m", "tests.deploy.metrics_target", "--port", str(port), "--scenario", "troubled"]


def _debian_prometheus_binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        skip_or_fail(f"no {name} binary: install the Debian package (apt-get install prometheus)")
    return path


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the ``prometheus`` server (Debian package ``prometheus``)."""
    return _debian_prometheus_binary("prometheus")


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of ``promtool`` (Debian package ``prometheus``)."""
    return _debian_prometheus_binary("promtool")


def _started(command: list[str], port: int, log: Path) -> Iterator[ScrapeTarget]:
    target = ScrapeTarget(command=command, port=port, cwd=REPO, log_path=log)
    try:
        target.start()
        yield target
    finally:
        target.stop()


@pytest.fixture(scope="module")
def daemon_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapeTarget]:
    """The daemon's ``/metrics`` (see :func:`daemon_target_command`), running."""
    port = free_port()
    log = tmp_path_factory.mktemp("daemon-target") / "output.log"
    yield from _started(daemon_target_command(port), port, log)


@pytest.fixture(scope="module")
def troubled_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapeTarget]:
    """A ``/metrics`` in which every alert condition holds, running."""
    port = free_port()
    log = tmp_path_factory.mktemp("troubled-target") / "output.log"
    yield from _started(troubled_target_command(port), port, log)
