"""`scaler sim`: its options, its errors, and a real server process stopped with SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from scaler.cli.main import main
from tests.processes import environment, scaler_command
from tests.sim.conftest import AUTH, LIST_PATH, health_path


def test_help_shows_the_token_default() -> None:
    """--help names the default token and the options."""
    result = CliRunner().invoke(main, ["sim", "--help"])
    assert 0 == result.exit_code
    assert "sim-token" in result.output
    for option in ("--host", "--port", "--seed", "--token", "--org-id", "--generate"):
        assert option in result.output


def test_malformed_seed_fails_with_one_line(tmp_path: Path) -> None:
    """A malformed seed exits 2 with one line naming the file and field, and no traceback."""
    seed = tmp_path / "bad.yaml"
    seed.write_text("deployments:\n  - deployment_name: a\n    status: RUNNING\n")
    result = CliRunner().invoke(main, ["sim", "--seed", str(seed)])
    assert 2 == result.exit_code
    lines = result.stderr.strip().splitlines()
    assert 1 == len(lines)
    assert lines[0].startswith(f"error: {seed}: deployments[0].status")


def test_seed_and_generate_exclude_each_other(tmp_path: Path) -> None:
    """--seed with --generate is a usage error."""
    result = CliRunner().invoke(main, ["sim", "--seed", str(tmp_path / "x.yaml"), "--generate", "5"])
    assert (2, "error: --seed and --generate exclude each other") == (result.exit_code, result.stderr.strip())


def test_invalid_org_id_is_refused() -> None:
    """--org-id must be a UUID."""
    result = CliRunner().invoke(main, ["sim", "--org-id", "acme"])
    assert 2 == result.exit_code
    assert "--org-id" in result.stderr


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`scaler sim --port 0` in a process of its own; yields it and its first printed lines."""
    process = subprocess.Popen(
        scaler_command("sim", "--port", "0", "--generate", "20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(9)]
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.integration
def test_server_serves_and_stops_cleanly_on_sigterm(server: tuple[subprocess.Popen[str], list[str]]) -> None:
    """The printed port serves the list with the printed token; SIGTERM stops it with exit status 0."""
    process, lines = server
    url = lines[0].strip().rsplit(" ", 1)[1]
    assert lines[0].startswith("Simplismart simulator listening on http://127.0.0.1:")
    stripped = [line.strip() for line in lines]
    assert f"export SCALER_API_URL={url}" in stripped
    assert "export SCALER_API_TOKEN=sim-token" in stripped
    response = httpx.get(url + LIST_PATH, headers=AUTH, timeout=10)
    assert (200, 20) == (response.status_code, len(response.json()))
    process.send_signal(signal.SIGTERM)
    assert 0 == process.wait(timeout=15)


@pytest.mark.integration
def test_dropped_connection_reaches_a_real_client_as_a_protocol_error(
    server: tuple[subprocess.Popen[str], list[str]],
) -> None:
    """Over a real socket the `drop` fault closes the connection before the announced body is complete."""
    process, lines = server
    url = lines[0].strip().rsplit(" ", 1)[1]
    listed = httpx.get(url + LIST_PATH, headers=AUTH, timeout=10).json()
    httpx.post(url + "/_sim/faults/malformed", json={"endpoint": "get_health", "kind": "drop"}, timeout=10)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url + health_path(listed[0]["deployment_id"]), headers=AUTH, timeout=10)
    assert 200 == httpx.get(url + LIST_PATH, headers=AUTH, timeout=10).status_code
    process.send_signal(signal.SIGINT)
    assert 130 == process.wait(timeout=15)  # Ctrl-C: stopped cleanly, reported as interrupted
    assert "Traceback" not in (process.stderr.read() if process.stderr else "")
