"""Fixtures of the deployment tests: the repository's paths, the binaries, the processes Prometheus scrapes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.deploy.organization import clean_environment, daemon_settings, scaler_command, sim_command
from tests.deploy.prometheus_harness import ServedProcess, find_binary, free_port

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "simplismart-scaler"
ALERTS = CHART / "files" / "alerts.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"


def troubled_target_command(port: int) -> list[str]:
    """The stand-in serving a scaler in every state an alert exists for (see tests.deploy.metrics_target)."""
    return [sys.executable, "-m", "tests.deploy.metrics_target", "--port", str(port)]


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
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtual environment the image's build stage would put at /opt/scaler, built once."""
    from tests.deploy.image_install import follow_build_stage  # imports this module: not at the top

    return follow_build_stage(tmp_path_factory.mktemp("image-root"))


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of ``promtool`` (Debian package ``prometheus``)."""
    return _debian_prometheus_binary("promtool")


def _running(process: ServedProcess) -> Iterator[ServedProcess]:
    try:
        process.start()
        yield process
    finally:
        process.stop()


def running_simulator(directory: Path) -> Iterator[ServedProcess]:
    """Start ``scaler sim`` serving the organization of ``tests/deploy/organization``; yield it; stop it."""
    port = free_port()
    process = ServedProcess(
        command=sim_command(port), port=port, cwd=REPO, log_path=directory / "simulator.log",
        env=clean_environment(), ready_path="/_sim/",
    )
    yield from _running(process)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """``scaler sim`` serving the organization of ``tests/deploy/organization``, running."""
    yield from running_simulator(tmp_path_factory.mktemp("simulator"))


@pytest.fixture(scope="module")
def daemon_target(simulator: ServedProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """The real daemon, ``scaler run``, against the simulator: started once ``/readyz`` answers 200.

    Ready means the policies are loaded, the deployments listed and the store written: the
    first cycle has run, so every per-deployment series exists from the first scrape on.
    """
    port = free_port()
    directory = tmp_path_factory.mktemp("daemon")
    env = clean_environment(**daemon_settings(api_url=simulator.url, state_dir=directory, http_port=port))
    process = ServedProcess(
        command=scaler_command("run"), port=port, cwd=REPO, log_path=directory / "output.log", env=env,
        ready_path="/readyz",
    )
    yield from _running(process)


@pytest.fixture(scope="module")
def troubled_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """The stand-in's ``/metrics``, in which every alert condition holds, running."""
    port = free_port()
    log = tmp_path_factory.mktemp("troubled-target") / "output.log"
    process = ServedProcess(command=troubled_target_command(port), port=port, cwd=REPO, log_path=log)
    yield from _running(process)
