"""``scaler plan --live`` against the simulator served on a loopback port."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from scaler.cli.main import main
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.store import ExceptionRecord, open_store

from .helpers import PEAK_AUTO_FILE, simulator_environment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
INVENTORY = ROOT / "examples" / "inventory.json"


#: The commands configure logging onto CliRunner's streams; undo that after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def run(*args: str, **env: str | None) -> Result:
    environment = simulator_environment()
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
        env=simulator_environment(sim_url),
    )
    assert 0 == listed.exit_code, listed.output
    (tmp_path / "inventory.json").write_text(listed.stdout)
    common = ["--policies", str(EXAMPLES), "--from", "2026-12-21T00:00", "--hours", "24", "--output", "json"]
    saved = run("--inventory", str(tmp_path / "inventory.json"), *common)
    live = run("--live", *common, SCALER_API_URL=sim_url)
    assert json.loads(live.stdout) == json.loads(saved.stdout)


def test_live_plan_shows_the_grace_period_of_a_new_deployment(sim_url: str, tmp_path: Path):
    """The daemon's store first saw whisper-v3 after its first inventory: the plan leaves it alone until
    15 minutes after that sighting (source grace, grace_until), then plans it as before; the deployments
    of the first inventory are planned as before."""
    seed = load_seed(DEFAULT_SEED_PATH)
    whisper = next(d for d in seed.deployments if d.deployment_name == "whisper-v3")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.mark_seen(
            [(UUID(d.deployment_id), d.deployment_name) for d in seed.deployments if d is not whisper],
            datetime(2026, 12, 20, tzinfo=UTC),
        )
        store.mark_seen([(UUID(whisper.deployment_id), whisper.deployment_name)], datetime(2026, 12, 21, 1, tzinfo=UTC))
    common = ["--live", "--policies", str(EXAMPLES), "--from", "2026-12-21T00:00", "--hours", "48"]
    with_store = run(*common, "--output", "json", SCALER_API_URL=sim_url, SCALER_STATE_URL=url)
    without = run(*common, "--output", "json", SCALER_API_URL=sim_url, SCALER_STATE_URL=f"sqlite:///{tmp_path / 'none.db'}")
    table = run(*common, SCALER_API_URL=sim_url, SCALER_STATE_URL=url)
    assert (0, 0, 0) == (with_store.exit_code, without.exit_code, table.exit_code), with_store.output
    planned = {entry["deployment_name"]: entry for entry in json.loads(with_store.stdout)["deployments"]}
    before = {entry["deployment_name"]: entry for entry in json.loads(without.stdout)["deployments"]}
    new = planned.pop("whisper-v3")
    assert {"at": "2026-12-21T00:00:00Z", "state": "unchanged", "min_replicas": None, "max_replicas": None,
            "source": "grace"} == new["transitions"][0]
    assert ("2026-12-21T01:15:00Z", "2026-12-21T01:15:00Z") == (new["grace_until"], new["transitions"][1]["at"])
    assert [t for t in before["whisper-v3"]["transitions"] if t["at"] > "2026-12-21T01:15:00Z"] == [
        t for t in new["transitions"] if t["at"] > "2026-12-21T01:15:00Z"
    ]
    assert {name: entry for name, entry in before.items() if name != "whisper-v3"} == planned
    assert "new: left alone until its grace period ends at 2026-12-21 01:15Z" in table.stdout


def test_live_plan_shows_the_exceptions_in_force_from_the_store(sim_url: str, tmp_path: Path):
    """The daemon's store holds an override keeping whisper-v3 running through its night stop
    (2026-12-21 18:00-21:00Z) and an ended suspension from before the period: the plan lays the
    override over the schedule, lists it in JSON and in the table, and ignores the old one. A
    store that does not exist is not created."""
    seed = load_seed(DEFAULT_SEED_PATH)
    whisper = UUID(next(d for d in seed.deployments if d.deployment_name == "whisper-v3").deployment_id)
    url = f"sqlite:///{tmp_path / 'state.db'}"

    def exception(id_: str, kind: str, start: datetime, until: datetime, state: str | None) -> ExceptionRecord:
        return ExceptionRecord(id=id_, kind=kind, target_kind="deployment", target=str(whisper),  # type: ignore[arg-type]
                               target_name="whisper-v3", deployment_ids=(whisper,), created_at=start, until=until,
                               reason="eval tonight", created_by="alice", state=state)  # fmt: skip

    with open_store(url) as store:
        store.create_exception(exception("o1", "override", datetime(2026, 12, 21, 18, tzinfo=UTC),
                                         datetime(2026, 12, 21, 21, tzinfo=UTC), "running"))  # fmt: skip
        store.create_exception(exception("old", "suspend", datetime(2026, 12, 19, tzinfo=UTC),
                                         datetime(2026, 12, 20, tzinfo=UTC), None))  # fmt: skip
    common = ["--live", "--policies", str(EXAMPLES), "--from", "2026-12-21T00:00", "--hours", "24"]
    planned = run(*common, "--output", "json", SCALER_API_URL=sim_url, SCALER_STATE_URL=url)
    table = run(*common, "--deployment", "whisper-v3", SCALER_API_URL=sim_url, SCALER_STATE_URL=url)
    missing = tmp_path / "none.db"
    without = run(*common, "--output", "json", SCALER_API_URL=sim_url, SCALER_STATE_URL=f"sqlite:///{missing}")
    assert (0, 0, 0) == (planned.exit_code, table.exit_code, without.exit_code), planned.output
    entry = next(e for e in json.loads(planned.stdout)["deployments"] if e["deployment_name"] == "whisper-v3")
    assert [
        ("2026-12-21T00:00:00Z", "stopped", "window:night"),
        ("2026-12-21T02:00:00Z", "running", "default"),
        ("2026-12-21T18:00:00Z", "running", "override:o1"),
        ("2026-12-21T21:00:00Z", "stopped", "window:night"),
    ] == [(t["at"], t["state"], t["source"]) for t in entry["transitions"]]
    assert [("o1", "override", "alice", "eval tonight")] == [
        (e["id"], e["kind"], e["by"], e["reason"]) for e in entry["exceptions"]
    ]
    assert (
        "  override running (o1) from 2026-12-21 18:00Z until 2026-12-21 21:00Z by alice: eval tonight"
        in table.stdout.splitlines()
    )
    assert all(not e["exceptions"] for e in json.loads(without.stdout)["deployments"])
    assert not missing.exists()


def test_live_plan_opens_the_state_store_once(sim_url: str, tmp_path: Path):
    """--live with a policy that learns its lead time reads four things from the daemon's store
    (first sightings, start-ups, exceptions, applied states) and opens it once: one store_opened
    event in the command's log."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.mark_seen([(UUID(d.deployment_id), d.deployment_name) for d in load_seed(DEFAULT_SEED_PATH).deployments],
                        datetime(2026, 12, 20, tzinfo=UTC))  # fmt: skip
    (tmp_path / "p.yaml").write_text(PEAK_AUTO_FILE)
    common = ["--live", "--policies", str(tmp_path / "p.yaml"), "--from", "2026-12-21T00:00", "--hours", "24"]
    result = run(*common, SCALER_API_URL=sim_url, SCALER_STATE_URL=url, SCALER_LOG_LEVEL="info", SCALER_LOG_FORMAT="json")
    assert 0 == result.exit_code, result.output
    assert 1 == result.stderr.count('"store_opened"'), result.stderr
