"""The daemon and the demo as real processes: `scaler run` stopped by SIGTERM, `scaler demo --for 20s`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN

POLICY = "version: 1\npolicies:\n  - name: llama\n    match: {names: [llama-3-8b-chat]}\n    default: stopped\n"


def _environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCALER_")}
    env.update(extra)
    return env


def read_events(stream: IO[str], until: str, limit: int = 500) -> list[dict[str, object]]:
    """Read JSON log lines from ``stream`` until one whose event is ``until`` (or the stream ends)."""
    events: list[dict[str, object]] = []
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        try:
            event = json.loads(line)
        except ValueError:
            continue
        events.append(event)
        if event.get("event") == until:
            break
    return events


@pytest.fixture
def simulator() -> Iterator[str]:
    """`scaler sim --port 0` in a process of its own; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scaler", "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_environment(),
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    try:
        yield first.strip().rsplit(" ", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.mark.integration
def test_scaler_run_acts_then_stops_cleanly_on_sigterm(tmp_path: Path, simulator: str) -> None:
    """The daemon starts, stops llama at its first cycle, serves /readyz, and exits 0 on SIGTERM."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    process = subprocess.Popen(
        [sys.executable, "-m", "scaler", "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(
            SCALER_API_URL=simulator,
            SCALER_API_TOKEN=DEFAULT_TOKEN,
            SCALER_ORG_ID=DEFAULT_ORG_ID,
            SCALER_POLICY_PATH=str(tmp_path / "policies"),
            SCALER_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}",
            SCALER_HTTP_PORT="0",
            SCALER_LOG_FORMAT="json",
        ),
    )
    assert process.stderr is not None
    try:
        started = read_events(process.stderr, "daemon_started")
        acted = read_events(process.stderr, "action")
        url = str(started[-1]["http"])
        ready = httpx.get(f"{url}/readyz", timeout=10).json()["ready"]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=40)
        rest = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert 0 == code
    assert ("llama-3-8b-chat", "stop", "success") == (acted[-1]["deployment"], acted[-1]["action"], acted[-1]["result"])
    assert ready is True
    assert '"event": "daemon_stopped"' in rest
    assert DEFAULT_TOKEN not in json.dumps(started + acted) + rest


@pytest.mark.integration
def test_scaler_demo_for_20s_shows_its_addresses_and_acts(tmp_path: Path) -> None:
    """`scaler demo --for 20s` prints the simulator's and the daemon's addresses, acts, and exits 0 by itself."""
    result = subprocess.run(
        [sys.executable, "-m", "scaler", "demo", "--for", "20s", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=90,
        env=_environment(),
        cwd=tmp_path,
    )
    assert 0 == result.returncode, result.stderr[-2000:]
    assert re.search(r"simulator: +http://127\.0\.0\.1:\d+", result.stdout)
    assert re.search(r"daemon: +http://127\.0\.0\.1:\d+", result.stdout)
    finished = re.search(r"demo finished after 20s: (\d+) actions", result.stdout)
    assert finished is not None and int(finished.group(1)) >= 1
    assert "action" in result.stderr and "result=success" in result.stderr
