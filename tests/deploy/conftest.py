"""Fixtures of the deployment tests: the repository's paths, the binaries, the processes Prometheus scrapes."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.deploy.fetch_helm import CACHED_HELM, FETCH_COMMAND
from tests.deploy.metrics_target import CONTROL_PREFIX
from tests.deploy.organization import daemon_settings, record_override, sim_command
from tests.deploy.prometheus_harness import ServedProcess, find_binary, http_get, http_post
from tests.processes import HarnessError, environment, free_port, scaler_command

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "simplismart-scaler"
ALERTS = CHART / "files" / "alerts.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"


#: The replicas the stand-in serves, by name: two leaders of one install (a split brain),
#: two standbys of another (no leader), and a leader and a standby that play a failover.
REPLICAS = {
    "split-brain-1": "leader",
    "split-brain-2": "leader",
    "no-leader-1": "standby",
    "no-leader-2": "standby",
    "failover-a": "leader",
    "failover-b": "standby",
}


#: Installs of one stand-in each, in a chosen per-deployment detail (``KIND@DETAIL``): the troubled scaler
#: in the details the ``troubled_target`` (compact) does not show, and a healthy leader in every detail.
DETAIL_TARGETS = {
    "troubled-full": "troubled@full",
    "troubled-off": "troubled@off",
    "healthy-full": "leader@full",
    "healthy-compact": "leader@compact",
    "healthy-off": "leader@off",
}


def stand_in_command(served: Mapping[int, str]) -> list[str]:
    """The stand-in (see tests.deploy.metrics_target) serving a stand-in of each kind on its port."""
    command = [sys.executable, "-m", "tests.deploy.metrics_target"]
    for port, kind in served.items():
        command += ["--serve", f"{kind}:{port}"]
    return command


@dataclass
class ReplicaTargets:
    """Stand-ins by name (the replicas of :data:`REPLICAS`, or :data:`DETAIL_TARGETS`), served by one
    process, each on its own port."""

    process: ServedProcess
    ports: Mapping[str, int]

    def address(self, name: str) -> str:
        """Return the scrape address (host:port) of replica ``name``."""
        return f"127.0.0.1:{self.ports[name]}"

    def scrape(self, name: str) -> bytes:
        """Return one scrape of replica ``name``'s ``/metrics``."""
        status, body = http_get(f"http://{self.address(name)}/metrics")
        if status != 200:
            raise HarnessError(f"{name} answered {status} to a scrape")
        return body

    def command(self, name: str, command: str) -> None:
        """Send ``command`` to replica ``name`` (see ``Replica.command``); raise unless it was carried out."""
        status, body = http_post(f"http://{self.address(name)}{CONTROL_PREFIX}{command}")
        if status != 200:
            raise HarnessError(f"{name} refused {command}: {status} {body.decode(errors='replace').strip()}")


def _debian_prometheus_binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        skip_or_fail(f"no {name} binary: install the Debian package (apt-get install prometheus)")
    return path


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the ``prometheus`` server (Debian package ``prometheus``)."""
    return _debian_prometheus_binary("prometheus")


def find_helm() -> str | None:
    """Return the Helm binary to test the chart with, or None when there is none.

    In this order: the ``SCALERTEST_HELM`` environment variable, the binary ``make helm`` fetches
    into ``.cache/helm/``, ``helm`` on PATH.
    """
    chosen = os.environ.get("SCALERTEST_HELM")
    if chosen:
        return chosen
    if CACHED_HELM.is_file():
        return str(CACHED_HELM)
    return shutil.which("helm")


@pytest.fixture(scope="session")
def helm_binary() -> str:
    """Path of the ``helm`` binary (see :func:`find_helm`); skips, or fails in CI, without one."""
    path = find_helm()
    if path is None:
        skip_or_fail(f"no helm binary: fetch it with `{FETCH_COMMAND}`, or set SCALERTEST_HELM to a Helm binary")
    if not os.access(path, os.X_OK):
        pytest.fail(f"the helm binary {path} is not an executable file")
    return path


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
        env=environment(), ready_path="/_sim/",
    )
    yield from _running(process)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """``scaler sim`` serving the organization of ``tests/deploy/organization``, running."""
    yield from running_simulator(tmp_path_factory.mktemp("simulator"))


@pytest.fixture(scope="module")
def daemon_target(simulator: ServedProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProcess]:
    """The real daemon, ``scaler run``, against the simulator (its store holding an override, see
    :func:`~tests.deploy.organization.record_override`): started once ``/readyz`` answers 200.

    Ready means the policies are loaded, the deployments listed and the store written: the
    first cycle has run, so every per-deployment series exists from the first scrape on.
    """
    port = free_port()
    directory = tmp_path_factory.mktemp("daemon")
    settings = daemon_settings(api_url=simulator.url, state_dir=directory, http_port=port)
    record_override(settings["SCALER_STATE_URL"])
    env = environment(**settings)
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
    process = ServedProcess(command=stand_in_command({port: "troubled"}), port=port, cwd=REPO, log_path=log)
    yield from _running(process)


def _named_targets(kinds: Mapping[str, str], log: Path) -> Iterator[ReplicaTargets]:
    """Serve a stand-in of each kind of ``kinds`` (by name) from one process; yield them; stop it."""
    ports: dict[str, int] = {}
    for name in kinds:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    command = stand_in_command({ports[name]: kind for name, kind in kinds.items()})
    process = ServedProcess(command=command, port=next(iter(ports.values())), cwd=REPO, log_path=log)
    for running in _running(process):
        yield ReplicaTargets(running, ports)


@pytest.fixture(scope="module")
def replica_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaTargets]:
    """The healthy replicas of :data:`REPLICAS`, leading or standing by, served by one running process."""
    yield from _named_targets(REPLICAS, tmp_path_factory.mktemp("replica-targets") / "output.log")


@pytest.fixture(scope="module")
def detail_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaTargets]:
    """The stand-ins of :data:`DETAIL_TARGETS`, each in its per-deployment detail, served by one running process."""
    yield from _named_targets(DETAIL_TARGETS, tmp_path_factory.mktemp("detail-targets") / "output.log")
