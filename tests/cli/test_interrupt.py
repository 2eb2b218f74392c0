"""Ctrl-C as a person presses it: real processes get SIGINT and exit 130, with no traceback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from scaler.cli.main import main
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from tests.cli.test_daemon_process import simulator as simulator  # noqa: F401 - the fixture
from tests.cli.test_daemon_process import start_daemon
from tests.daemon.policies import LLAMA_STOPPED, document
from tests.processes import environment, scaler_command

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("restore_logging")]

WHISPER = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"


@pytest.fixture
def silent_platform() -> Iterator[socket.socket]:
    """A socket that accepts connections and never answers: a request to it waits until interrupted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    with listener:
        yield listener


def test_ctrl_c_during_a_call_exits_130_without_a_traceback(silent_platform: socket.socket) -> None:
    """`scaler deployments list` waiting for the platform, interrupted: exit 130, one line, no traceback."""
    port = silent_platform.getsockname()[1]
    process = subprocess.Popen(
        scaler_command("deployments", "list"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(
            SCALER_API_URL=f"http://127.0.0.1:{port}",
            SCALER_API_TOKEN=DEFAULT_TOKEN,
            SCALER_HTTP_TIMEOUT_SECONDS="60",
        ),
    )
    try:
        connection, _ = silent_platform.accept()  # the request is in flight
        with connection:
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert 130 == process.returncode, stderr
    assert "" == stdout
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert ["interrupted"] == [line for line in stderr.splitlines() if line.strip()]


def test_ctrl_c_at_the_delete_question_exits_130_and_deletes_nothing(simulator: str) -> None:  # noqa: F811
    """Ctrl-C while `scaler deployments delete` asks is an interruption (130), not a "no" (1)."""
    process = subprocess.Popen(
        scaler_command("deployments", "delete", WHISPER),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(SCALER_API_URL=simulator, SCALER_API_TOKEN=DEFAULT_TOKEN),
    )
    assert process.stderr is not None
    try:
        prompt = process.stderr.read(len("Delete deployment"))
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Delete deployment" == prompt
    assert 130 == process.returncode, rest
    assert "Traceback" not in rest and "not confirmed" not in rest
    listed = httpx.get(f"{simulator}/_sim/deployments/{WHISPER}", timeout=10).json()
    assert "DEPLOYED" == listed["status"]


def test_scaler_run_stops_cleanly_on_ctrl_c_and_exits_130(tmp_path: Path, simulator: str) -> None:  # noqa: F811
    """The daemon interrupted with SIGINT stops as on SIGTERM (daemon_stopped logged) and exits 130."""
    daemon = start_daemon(tmp_path, simulator)
    try:
        started = daemon.wait_for("daemon_started", timeout=60)
        daemon.wait_for("action", timeout=60)
        assert httpx.get(f"{started.fields['http']}/healthz", timeout=10).is_success
        daemon.process.send_signal(signal.SIGINT)
        code = daemon.process.wait(timeout=40)
        daemon.read_to_end()
    finally:
        daemon.stop()
    assert 130 == code
    assert "daemon_stopped" in [event.name for event in daemon.events]
    assert "Traceback" not in "".join(daemon.rest)


def test_a_single_instance_says_nothing_about_leadership_at_info(tmp_path: Path, simulator: str) -> None:  # noqa: F811
    """`scaler run --once` on SQLite (no election) logs no leadership line at info level."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(document(LLAMA_STOPPED))
    env = {
        "SCALER_API_URL": simulator,
        "SCALER_API_TOKEN": DEFAULT_TOKEN,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_POLICY_PATH": str(tmp_path / "policies"),
        "SCALER_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": "info",
    }
    result = CliRunner().invoke(main, ["run", "--once"], env=env)
    assert 0 == result.exit_code, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert "policies_loaded" in [event["event"] for event in events]  # info lines are there
    assert [] == [event for event in events if "leader" in event["event"]]
