"""``scaler plan --live`` against the simulator served on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scaler.cli.main import main
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from tests.client.serving import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
INVENTORY = ROOT / "examples" / "inventory.json"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock())
    with LoopbackServer(create_app(state)) as server:
        yield server.url


#: The commands configure logging onto CliRunner's streams; undo that after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def run(*args: str, **env: str | None) -> Result:
    environment: dict[str, str | None] = {
        "SCALER_API_TOKEN": DEFAULT_TOKEN,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_LOG_LEVEL": None,
        "SCALER_API_RETRY_ATTEMPTS": "1",
    }
    environment.update(env)
    return CliRunner().invoke(main, ["plan", *args], env=environment)


def test_live_plan_equals_the_plan_of_the_saved_list_response(sim_url: str):
    """Listing the simulator's seed through the API plans exactly what its saved list response plans."""
    common = ["--policies", str(EXAMPLES), "--from", "2026-12-21T00:00", "--hours", "48", "--output", "json"]
    live = run("--live", *common, SCALER_API_URL=sim_url)
    saved = run("--inventory", str(INVENTORY), *common)
    assert 0 == live.exit_code, live.output
    assert json.loads(saved.stdout) == json.loads(live.stdout)


def test_live_plan_with_a_wrong_token_is_one_line(sim_url: str):
    """A refused token is one error line with the platform's message, exit 1."""
    result = run("--live", "--policies", str(EXAMPLES), SCALER_API_URL=sim_url, SCALER_API_TOKEN="wrong")
    assert 1 == result.exit_code
    assert 1 == len(result.stderr.splitlines()), result.stderr
    assert result.stderr.startswith("error: ")
    assert "wrong" not in result.stderr


def test_live_plan_without_a_token_is_a_usage_error(sim_url: str):
    """No token configured: exit 2 naming what is missing."""
    result = run("--live", "--policies", str(EXAMPLES), SCALER_API_URL=sim_url, SCALER_API_TOKEN=None)
    assert 2 == result.exit_code
    assert result.stderr.startswith("error: ")


def test_inventory_and_live_together_is_a_usage_error():
    """Exactly one source of deployments: both (or neither) is a usage error."""
    both = run("--live", "--inventory", str(INVENTORY), "--policies", str(EXAMPLES))
    neither = run("--policies", str(EXAMPLES))
    assert (2, 2) == (both.exit_code, neither.exit_code)
    assert "give exactly one of --inventory FILE or --live" in both.stderr


def test_output_of_deployments_list_is_a_usable_inventory(sim_url: str, tmp_path: Path):
    """`scaler deployments list --output json` saved to a file plans like --live does."""
    listed = CliRunner().invoke(
        main, ["deployments", "list", "--output", "json"],
        env={"SCALER_API_URL": sim_url, "SCALER_API_TOKEN": DEFAULT_TOKEN, "SCALER_API_TOKEN_FILE": None, "SCALER_LOG_LEVEL": None},
    )
    assert 0 == listed.exit_code, listed.output
    (tmp_path / "inventory.json").write_text(listed.stdout)
    common = ["--policies", str(EXAMPLES), "--from", "2026-12-21T00:00", "--hours", "24", "--output", "json"]
    saved = run("--inventory", str(tmp_path / "inventory.json"), *common)
    live = run("--live", *common, SCALER_API_URL=sim_url)
    assert json.loads(live.stdout) == json.loads(saved.stdout)
