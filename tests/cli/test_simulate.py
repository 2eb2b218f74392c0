"""`scaler simulate` as a person and a CI job use it: exit statuses, events errors, --compare-to,
peak readiness, health-rule timing, and --live listing only."""

from __future__ import annotations

import json
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

pytestmark = pytest.mark.usefixtures("restore_logging")

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
MONDAY = "2026-12-07T00:00"
ONE = """\
version: 1
policies:
  - name: chat
    match: {names: [chat]}
    timezone: UTC
    default: stopped
    windows:
      - name: office
        between: "Mon-Fri 08:00-18:00"
        lead_time: LEAD
        state: {min_replicas: 1, max_replicas: 2}
    health:
      - name: shrink
        status: Degraded
        for: 1m
        state: {min_replicas: 1, max_replicas: 1}
"""
SEED = """\
deployments:
  - deployment_id: 0b6df06d-c35c-4c90-ae22-290d3b7b7ed7
    deployment_name: chat
    model_repo_id: null
    model_repo_name: chat
    accelerator_type: [nvidia-l4]
    accelerator_count: 2
    min_replicas: 1
    max_replicas: 2
    startup_seconds: 300
"""
ENV = {"SCALER_LOG_LEVEL": None, "SCALER_POLICY_PATH": None}


def simulate(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, ["simulate", *args], env={**ENV, **(env or {})})


def files(tmp_path: Path, *, lead: str = "10m", events: str | None = None) -> list[str]:
    (tmp_path / "p.yaml").write_text(ONE.replace("LEAD", lead))
    (tmp_path / "seed.yaml").write_text(SEED)
    args = ["--policies", str(tmp_path / "p.yaml"), "--seed", str(tmp_path / "seed.yaml"), "--from", MONDAY]
    if events is not None:
        (tmp_path / "events.yaml").write_text(events)
        args += ["--events", str(tmp_path / "events.yaml")]
    return args


def report(result: Result) -> dict:
    assert 0 == result.exit_code, result.output
    return json.loads(result.stdout)


def test_the_examples_with_a_degraded_tuesday_print_the_week(tmp_path: Path) -> None:
    """The new user's try: the example policies, the default seed and a Degraded Tuesday; exit 0 and a table."""
    (tmp_path / "events.yaml").write_text(
        'events:\n  - {at: "2026-12-08T10:00Z", deployment: embeddings-bge-large, health: Degraded, for: 40m}\n'
    )
    result = simulate("--policies", str(EXAMPLES), "--from", MONDAY, "--days", "7", "--events", str(tmp_path / "events.yaml"))
    assert 0 == result.exit_code, result.output
    assert "2026-12-08 10:01Z  embeddings-bge-large" in result.stdout
    assert "Peak readiness:" in result.stdout
    assert "Realized - planned:" in result.stdout


def test_the_examples_week_counts_what_the_platform_ran(tmp_path: Path) -> None:
    """The same try in JSON: what the daemon counts agrees with the simulator's ledger within 0.5 %, for
    the organization and for each deployment that saved more than a GPU-hour, though the default seed
    has deployments no policy governs, one found stopped and one still being deployed; and each
    deployment's difference from the plan is realized - planned, put down to its causes."""
    (tmp_path / "events.yaml").write_text(
        'events:\n  - {at: "2026-12-08T10:00Z", deployment: embeddings-bge-large, health: Degraded, for: 40m}\n'
    )
    document = report(simulate("--policies", str(EXAMPLES), "--from", MONDAY, "--events", str(tmp_path / "events.yaml"),
                               "--output", "json"))
    totals = document["totals"]["gpu_hours"]
    assert totals["counted"] == pytest.approx(totals["realized"], rel=0.005)
    for entry in document["deployments"]:
        hours, difference = entry["gpu_hours"], entry["difference"]
        name = entry["deployment_name"]
        if hours["baseline"] - hours["realized"] > 1.0:
            assert hours["counted"] == pytest.approx(hours["realized"], rel=0.005), name
        assert difference["gpu_hours"] == pytest.approx(hours["realized"] - hours["planned"], abs=1e-4), name
        causes = sum(value for key, value in difference.items() if key != "gpu_hours")
        assert difference["gpu_hours"] == pytest.approx(causes, abs=1e-4), name


def test_lead_time_longer_than_start_up_makes_peaks_ready(tmp_path: Path) -> None:
    """A 10-minute lead time covers a 5-minute start-up: every weekday window starts Healthy, and the
    warm-up is the lead time's GPU-minutes (2 GPUs x 10 minutes x 5 days)."""
    entry = report(simulate(*files(tmp_path, lead="10m"), "-o", "json"))["deployments"][0]
    assert {"windows": 5, "ready_at_start": 5, "warmup_gpu_minutes": 100.0} == entry["peak_readiness"]


def test_no_lead_time_means_peaks_start_while_starting(tmp_path: Path) -> None:
    """Without lead time the 5-minute start-up is still running at each window's nominal start."""
    entry = report(simulate(*files(tmp_path, lead="0s"), "-o", "json"))["deployments"][0]
    assert {"windows": 5, "ready_at_start": 0, "warmup_gpu_minutes": 0.0} == entry["peak_readiness"]


def test_a_health_rule_acts_when_the_daemon_would(tmp_path: Path) -> None:
    """Degraded at 10:00:10: the health job (every 30 s) sees it at 10:00:30, the rule (for: 1m) shrinks
    at 10:01:30 exactly, as the daemon of `scaler run` would."""
    events = 'events:\n  - {at: "2026-12-08T10:00:10Z", deployment: chat, health: Degraded, for: 20m}\n'
    entry = report(simulate(*files(tmp_path, events=events), "-o", "json"))["deployments"][0]
    shrinks = [action for action in entry["actions"] if "health:shrink" in action["reason"]]
    assert [("2026-12-08T10:01:30Z", 1, 1, "success")] == [
        (action["at"], action["min_replicas"], action["max_replicas"], action["result"]) for action in shrinks
    ]


def test_the_json_is_the_same_byte_for_byte(tmp_path: Path) -> None:
    """Two runs with the same inputs print the same bytes."""
    args = files(tmp_path, events='events:\n  - {at: "2026-12-09T12:00Z", wallet: blocked, for: 2h}\n')
    assert simulate(*args, "-o", "json").stdout == simulate(*args, "-o", "json").stdout


def test_compare_to_reports_the_differences(tmp_path: Path) -> None:
    """--compare-to runs a second set on the same organization: the lead time's change shows in actions and readiness."""
    args = files(tmp_path, lead="10m")
    (tmp_path / "other.yaml").write_text(ONE.replace("LEAD", "0s"))
    document = report(simulate(*args, "--compare-to", str(tmp_path / "other.yaml"), "-o", "json"))
    [entry] = document["comparison"]["deployments"]
    assert {"policies": 5, "compare_to": 0, "change": -5} == entry["peaks_ready_at_start"]
    assert "2026-12-07T07:50:00Z" in {action["at"] for action in entry["actions"]["only_policies"]}
    assert "2026-12-07T08:00:00Z" in {action["at"] for action in entry["actions"]["only_compare_to"]}
    assert document["comparison"]["totals"]["realized_gpu_hours"]["change"] == pytest.approx(-5 * 2 * 10 / 60)


def test_invalid_events_are_listed_with_file_and_line(tmp_path: Path) -> None:
    """Every problem of the events file, FILE:LINE: PATH: message, then exit 1."""
    events = (
        "events:\n"
        '  - {at: "2026-12-08T10:00Z", deployment: nobody, health: Degraded}\n'
        '  - {at: "2026-12-08T10:00Z", deployment: chat, health: Sick}\n'
        '  - {at: "2027-01-08T10:00Z", wallet: blocked}\n'
        '  - {at: "2026-12-08T10:00Z", wallet: blocked, quota: {nvidia-l4: 1}}\n'
        '  - {at: "2026-12-08T10:00Z", deployment: chat, startup: soon}\n'
    )
    result = simulate(*files(tmp_path, events=events))
    assert 1 == result.exit_code
    path = tmp_path / "events.yaml"
    assert [
        f"{path}:2: events[0].deployment: no deployment is named 'nobody' (or has that id) in the simulated organization",
        f"{path}:3: events[1].health: 'Sick' is not a health value; expected one of: Healthy, Progressing, "
        "Initializing, Degraded, Unhealthy, Unknown, Missing",
        f"{path}:4: events[2].at: 2027-01-08T10:00Z is outside the simulated period 2026-12-07T00:00:00Z to "
        "2026-12-14T00:00:00Z",
        f"{path}:5: events[3]: an event has exactly one of health, startup, quota, wallet; found quota, wallet",
        f"{path}:6: events[4].startup: 'soon' is not a duration; expected a duration such as 30s, 10m, 8h, 7d or 1h30m",
    ] == result.stdout.splitlines()
    assert "error: 5 problems in the events file\n" == result.stderr


def test_invalid_policies_exit_1(tmp_path: Path) -> None:
    """An invalid policy file: its problems listed, exit 1."""
    args = files(tmp_path)
    (tmp_path / "p.yaml").write_text("version: 1\npolicies:\n  - name: x\n    default: sometimes\n")
    result = simulate(*args)
    assert 1 == result.exit_code
    assert "p.yaml:4" in result.stdout


@pytest.mark.parametrize(
    "problem",
    ["events", "seed", "policies", "setting", "usage"],
)
def test_unusable_paths_settings_and_usage_exit_2(tmp_path: Path, problem: str) -> None:
    """An unreadable events file, seed or policy path, a bad setting or two sources at once: exit 2."""
    args = files(tmp_path)
    env: dict[str, str | None] = {}
    if problem == "events":
        args += ["--events", str(tmp_path / "missing.yaml")]
    elif problem == "seed":
        args[3] = str(tmp_path / "missing-seed.yaml")
    elif problem == "policies":
        args[1] = str(tmp_path / "missing-policies")
    elif problem == "setting":
        env["SCALER_RECONCILE_INTERVAL_SECONDS"] = "often"
    else:
        args += ["--live"]
    result = simulate(*args, env=env)
    assert 2 == result.exit_code, result.output


def test_live_lists_and_never_sends_a_mutating_call(tmp_path: Path) -> None:
    """--live lists the organization through the API once, then simulates: the platform's request log
    holds that one list and nothing else, although the simulated daemon acted all week."""
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock())
    (tmp_path / "p.yaml").write_text((EXAMPLES / "10-office-hours.yaml").read_text())
    env = {
        "SCALER_API_TOKEN": DEFAULT_TOKEN,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
    }
    with LoopbackServer(create_app(state)) as server:
        env["SCALER_API_URL"] = server.url
        result = simulate("--live", "--policies", str(tmp_path / "p.yaml"), "--from", MONDAY, "-o", "json", env=env)
    document = report(result)
    assert sum(len(entry["actions"]) for entry in document["deployments"]) > 10
    assert ["list_deployments"] == [entry.endpoint for entry in state.requests]
