"""Scenario 6, secrets, the daemon's part: the API token shows nowhere the daemon writes or serves.

The token is the recognisable JWT-length one of the client's part
(:data:`tests.reliability.test_secrets.TOKEN`), and the platform echoes it in every
error it can: 401, 402, 404, 400 quota, 500 text, 502 HTML. Two runs:

- **The demo flow, in process**: the example policies on the default seed, a simulated
  morning on virtual time with the daemon's real log rendering (JSON and console, debug
  level, tracebacks included), every error path above hit by the daemon's own cycles.
- **A real crash**: ``scaler sim`` and ``scaler run`` (the token from a file), the
  platform echoing the token, the daemon killed with SIGKILL in the middle of its
  calls, restarted, asked by ``scaler status`` (table and JSON), then stopped.

Then nothing may show 12 consecutive characters of the token: no log line, no
``/status``, ``/metrics`` or ``/readyz`` answer, no ``scaler status`` output, no error
text, no record of the state store (read whole: every table, every column).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from scaler.cli.daemon_commands import status_table
from scaler.daemon.http import create_http_app
from scaler.logs import configure_logging
from tests.daemon.harness import BATCH, EXAMPLES, LLAMA_8B, MONDAY, at_utc
from tests.reliability.figures import ScenarioFigures
from tests.reliability.live import live_daemon
from tests.processes import SimProcess, daemon_environment, environment, scaler_command
from tests.reliability.processes import DaemonProcess
from tests.reliability.test_secrets import TOKEN, check

pytestmark = [pytest.mark.scenario(6), pytest.mark.usefixtures("restore_logging")]

#: Errors the platform answers, each echoing the token: (endpoint, status, body, how many answers).
ECHOES = [
    ("get_health", 500, f"upstream said Authorization: Bearer {TOKEN}", 6),
    ("update_replicas", 400, {"error": f"Insufficient GPU quota for token {TOKEN}"}, 2),
    ("startstop", 402, {"error": f"Wallet is blocked for {TOKEN}"}, 2),
    ("update_replicas", 404, {"detail": f"No deployment for {TOKEN}"}, 1),
    ("list_deployments", 502, f"<html><p>Bad gateway for {TOKEN}</p></html>", 4),
    ("list_deployments", 401, {"detail": f"Invalid token {TOKEN}."}, 2),
]


#: batch-transcribe kept running with bounds 1..{high}, enforced: a new file or a stop by hand makes a call due.
ENFORCED = """version: 1
policies:
  - name: enforced-batch
    match: {{names: [batch-transcribe]}}
    priority: 100
    enforce: true
    default: {{min_replicas: 1, max_replicas: {high}}}
"""


def store_dump(path: Path) -> str:
    """Every row of every table of the SQLite store, as SQL text."""
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_the_demo_flow_with_every_error_path_shows_no_part_of_the_token(
    tmp_path: Path, figures: ScenarioFigures, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    """A simulated morning of the example policies, the platform echoing the token in each of its errors: the
    rendered log, /status, /metrics, /readyz, the status table and the whole store show none of it."""
    configure_logging(log_format=log_format, log_level="debug")
    policies = tmp_path / "policies"
    shutil.copytree(EXAMPLES, policies)
    async with live_daemon(tmp_path, policies=policies, start=at_utc(MONDAY, "06:50"), token=TOKEN) as live:
        harness = live.harness
        app = create_http_app(harness.daemon, harness.metrics)
        for number, (endpoint, status, body, count) in enumerate(ECHOES):
            await harness.control("POST", "faults/fail-next", {"endpoint": endpoint, "status": status, "body": body, "count": count})
            # A call of each kind is due: new bounds for batch-transcribe (enforced), or it is stopped by hand.
            (policies / "90-enforced.yaml").write_text(ENFORCED.format(high=2 + number))
            await harness.control("PUT", f"deployments/{BATCH}/status", {"status": "SCALED_DOWN"})
            await live.time.sleep_for(600)
        await harness.control("PUT", "wallet", {"blocked": True})
        await live.time.sleep_for(900)
        await harness.control("PUT", "wallet", {"blocked": False})
        await live.time.sleep_for(1200)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon") as http:
            answers = {path: (await http.get(path)).text for path in ("/status", "/metrics", "/readyz", "/healthz")}
        document = json.loads(answers["/status"])
        errors = harness.audit(results=["error"])
        served = [document for document in harness.sim.requests if document.status and document.status >= 400]
    rendered = capsys.readouterr().err
    dump = store_dump(tmp_path / "state.db")
    figures.add(faults=sum(count for *_, count in ECHOES) + 1)
    leaks = check(figures, f"rendered {log_format} log", rendered)
    leaks += check(figures, "/status, /metrics, /readyz, /healthz", *answers.values())
    leaks += check(figures, "the status table", status_table(document))
    leaks += check(figures, "the whole store", dump)
    assert [] == leaks
    # The run did go through the error paths: the errors were answered, recorded and logged.
    assert {401, 402, 404, 400, 500, 502} <= {entry.status for entry in served}
    assert {"quota", "wallet_blocked", "not_found"} <= {record.error_reason for record in errors}
    # The echoes reached the log, scrubbed: the platform's messages are shown, the token is not.
    assert all(f"{text} ***" in rendered for text in ("Wallet is blocked for", "Invalid token", "GPU quota for token"))
    assert str(LLAMA_8B) in dump


@pytest.mark.integration
def test_a_killed_daemon_and_its_successor_show_no_part_of_the_token(tmp_path: Path, figures: ScenarioFigures) -> None:
    """scaler run (token from a file) killed with SIGKILL while the platform holds its calls and echoes the token;
    restarted; scaler status read; stopped: its log, endpoints, scaler status and the store show none of it."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    sim = SimProcess(token=TOKEN)
    log = tmp_path / "daemon.log"
    outputs: list[str] = []
    daemon: DaemonProcess | None = None
    try:
        env = daemon_environment(
            sim.url,
            token=sim.token,
            policies=EXAMPLES,
            state_url=f"sqlite:///{tmp_path / 'state.db'}",
            SCALER_API_TOKEN=None,
            SCALER_API_TOKEN_FILE=str(token_file),
            SCALER_LOG_LEVEL="debug",
            SCALER_RECONCILE_INTERVAL_SECONDS="1",
        )
        sim.control("PUT", "/faults/latency", {"fixed_ms": 2000, "endpoints": ["update_replicas", "startstop"]})
        daemon = DaemonProcess(env, log)
        daemon.wait_started()
        time.sleep(1.0)  # its first cycle's calls (first sightings) are held by the platform
        daemon.kill()
        time.sleep(1.5)
        sim.control("PUT", "/faults/latency", {"fixed_ms": 0})
        for endpoint, status, body, count in ECHOES[:3]:
            sim.control("POST", "/faults/fail-next", {"endpoint": endpoint, "status": status, "body": body, "count": count})
        daemon = DaemonProcess(env, log)
        url = daemon.wait_started()
        daemon.wait_acting()
        for path in ("/status", "/metrics", "/readyz", "/healthz"):
            outputs.append(daemon.get(path).text)
        for output in ("table", "json"):
            command = scaler_command("status", "--url", url, "-o", output)
            run = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment())
            assert 0 == run.returncode, run.stderr
            outputs += [run.stdout, run.stderr]
        code = daemon.terminate()
        gone = subprocess.run(
            scaler_command("status", "--url", url), capture_output=True, text=True, timeout=60, env=environment()
        )
        outputs += [gone.stdout, gone.stderr]
    finally:
        if daemon is not None:
            daemon.close()
        sim.stop()
    dump = store_dump(tmp_path / "state.db")
    logged = log.read_text()
    figures.add(faults=1 + sum(count for *_, count in ECHOES[:3]))
    leaks = check(figures, "the daemons' log", logged)
    leaks += check(figures, "endpoints and scaler status", *outputs)
    leaks += check(figures, "the whole store after a crash", dump)
    assert [] == leaks
    assert (0, 1) == (code, gone.returncode)
    assert '"event": "action_recovered"' in logged  # the kill did leave calls in flight
