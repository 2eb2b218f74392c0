"""`scaler run --once` as a person reads it: each action with its values and reason, what was skipped
and why, and a failure that names its cause and the setting to check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.sim.state import SimState
from tests.cli.test_daemon_commands import daemon_env, invoke, served_sim  # noqa: F401 - served_sim is the fixture
from tests.daemon.harness import LLAMA_8B

pytestmark = pytest.mark.usefixtures("restore_logging")

LLAMA_BOUNDS = """\
version: 1
policies:
  - name: llama
    match: {names: [llama-3-8b-chat]}
    default: {min_replicas: 1, max_replicas: 2}
  - name: legacy
    match: {names: [legacy-gpt-j]}
    default: running
"""


def test_each_action_shows_its_values_and_reason(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:  # noqa: F811
    """The bounds sent and the source that asked for them: `update_replicas min=1 max=2 (default) dry_run`."""
    url, _ = served_sim
    result = invoke("run", "--once", "--dry-run", **daemon_env(tmp_path, url, LLAMA_BOUNDS))
    assert 0 == result.exit_code, result.stderr
    assert f"llama-3-8b-chat ({LLAMA_8B}): update_replicas min=1 max=2 (default) dry_run" == result.stdout.splitlines()[0]


def test_the_summary_counts_skipped_deployments_by_reason(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:  # noqa: F811
    """Deployments left alone are counted by why: no policy, or a status the scaler does not act on."""
    url, _ = served_sim
    result = invoke("run", "--once", "--dry-run", **daemon_env(tmp_path, url, LLAMA_BOUNDS))
    assert (
        "reconciled 13 deployments: 1 action (1 dry_run); 12 skipped (11 no policy governs it, 1 status FAILED)"
        == result.stdout.splitlines()[-1]
    )


def test_an_unreachable_api_ends_with_the_cause_and_the_setting(tmp_path: Path) -> None:
    """Nothing listens at SCALER_API_URL: one last line naming host, port and the variable; exit 1."""
    env = {**daemon_env(tmp_path, "http://127.0.0.1:1", LLAMA_BOUNDS), "SCALER_LOG_LEVEL": "info"}
    result = invoke("run", "--once", **env)
    assert 1 == result.exit_code
    assert "" == result.stdout
    assert "error: cannot connect to 127.0.0.1:1: check SCALER_API_URL" == result.stderr.splitlines()[-1]
    assert "listing failed" not in result.stderr


def test_once_never_promises_a_next_cycle(tmp_path: Path) -> None:
    """Nothing --once prints or logs speaks of a next cycle: there is none."""
    env = {**daemon_env(tmp_path, "http://127.0.0.1:1", LLAMA_BOUNDS), "SCALER_LOG_LEVEL": "debug"}
    result = invoke("run", "--once", **env)
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert "inventory_failed" in [event["event"] for event in events]
    assert "next cycle" not in (result.stdout + result.stderr).lower()
