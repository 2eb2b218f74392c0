"""The daemon and the demo as real processes: `scaler run` stopped by SIGTERM, `scaler demo --for 20s`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scaler.sim import DEFAULT_TOKEN
from tests.daemon.policies import LLAMA_STOPPED, document
from tests.processes import LoggedProcess, SimProcess, daemon_environment, environment, scaler_command, start_logged


def start_daemon(tmp_path: Path, simulator: str) -> LoggedProcess:
    """`scaler run` against ``simulator`` with llama-3-8b-chat stopped by policy, its state in ``tmp_path``."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(document(LLAMA_STOPPED))
    env = daemon_environment(simulator, policies=tmp_path / "policies", state_url=f"sqlite:///{tmp_path / 'state.db'}")
    return start_logged("daemon", scaler_command("run"), env)


@pytest.fixture
def simulator() -> Iterator[str]:
    """`scaler sim --port 0` in a process of its own; yields its URL."""
    with SimProcess() as process:
        yield process.url


@pytest.mark.integration
def test_scaler_run_acts_then_stops_cleanly_on_sigterm(tmp_path: Path, simulator: str) -> None:
    """The daemon starts, stops llama at its first cycle, serves /readyz, and exits 0 on SIGTERM."""
    daemon = start_daemon(tmp_path, simulator)
    try:
        started = daemon.wait_for("daemon_started", timeout=60)
        acted = daemon.wait_for("action", timeout=60)
        ready = httpx.get(f"{started.fields['http']}/readyz", timeout=10).json()["ready"]
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=40)
        daemon.read_to_end()
    finally:
        daemon.stop()
    assert 0 == code
    assert ("llama-3-8b-chat", "stop", "success") == (
        acted.fields["deployment"], acted.fields["action"], acted.fields["result"]
    )
    assert ready is True
    assert "daemon_stopped" in [event.name for event in daemon.events]
    assert DEFAULT_TOKEN not in json.dumps([event.fields for event in daemon.events]) + "".join(daemon.rest)


@pytest.mark.integration
def test_scaler_demo_for_20s_shows_its_addresses_and_acts(tmp_path: Path) -> None:
    """`scaler demo --for 20s` prints the simulator's and the daemon's addresses, acts, and exits 0 by itself."""
    result = subprocess.run(
        scaler_command("demo", "--for", "20s", "--port", "0"),
        capture_output=True,
        text=True,
        timeout=90,
        env=environment(),
        cwd=tmp_path,
    )
    assert 0 == result.returncode, result.stderr[-2000:]
    assert re.search(r"simulator: +http://127\.0\.0\.1:\d+", result.stdout)
    assert re.search(r"daemon: +http://127\.0\.0\.1:\d+", result.stdout)
    finished = re.search(r"demo finished after 20s: (\d+) actions", result.stdout)
    assert finished is not None and int(finished.group(1)) >= 1
    assert "action" in result.stderr and "result=success" in result.stderr
