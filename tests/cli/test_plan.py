"""`scaler plan` as a person and a CI gate use it: order, added costs, skip dates, filters, conflicts, warnings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from scaler.cli.main import main
from scaler.store import open_store
from tests.policy.helpers import OFFICE_FILE, PEAK_AUTO_FILE, simulator_environment

pytestmark = pytest.mark.usefixtures("restore_logging")

MONDAY = "2026-03-02T00:00"


def deployment(name: str, number: int, accelerator: str = "nvidia-l4") -> dict[str, object]:
    return {
        "deployment_id": f"00000000-0000-4000-8000-{number:012d}",
        "deployment_name": name,
        "accelerator_type": [accelerator],
        "accelerator_count": 1,
        "status": "DEPLOYED",
    }


INVENTORY = [deployment("whisper", 1), deployment("llama-8b", 2), deployment("alpha", 3)]

OFFICE = OFFICE_FILE + '    skip_dates: ["2026-03-03"]\n'

MORE_THAN_WITHOUT = """\
version: 1
policies:
  - name: bigger
    match: {names: ["llama-*"]}
    baseline_replicas: 1
    default: {min_replicas: 2, max_replicas: 3}
"""

TWO_AT_ONE_PRIORITY = """\
version: 1
policies:
  - name: first
    match: {names: ["llama-*"]}
    default: stopped
  - name: second
    match: {names: ["llama-8b"]}
    default: running
"""


def plan(tmp_path: Path, policies: str, *args: str, inventory: list[dict[str, object]] = INVENTORY) -> Result:
    (tmp_path / "p.yaml").write_text(policies)
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    arguments = ["plan", "--policies", str(tmp_path / "p.yaml"), "--inventory", str(tmp_path / "inventory.json")]
    return CliRunner().invoke(main, [*arguments, "--from", MONDAY, *args])


def test_deployments_are_planned_by_name(tmp_path: Path) -> None:
    """The table and the JSON list the deployments by name, whatever the inventory's order."""
    table = plan(tmp_path, OFFICE, "--hours", "24")
    document = json.loads(plan(tmp_path, OFFICE, "--hours", "24", "-o", "json").stdout)
    blocks = [line.split()[0] for line in table.stdout.splitlines()[2:] if line and not line.startswith((" ", "Totals"))]
    assert ["alpha", "llama-8b", "whisper"] == blocks
    assert ["alpha", "llama-8b", "whisper"] == [entry["deployment_name"] for entry in document["deployments"]]


def test_a_negative_saving_reads_as_an_added_cost(tmp_path: Path) -> None:
    """Planned above the baseline: the totals say what it adds (`costs +$36.00`), never `saved -$36.00`."""
    result = plan(tmp_path, MORE_THAN_WITHOUT, "--hours", "24", "--deployment", "llama-*")
    assert 0 == result.exit_code, result.output
    totals = result.stdout.splitlines()[-1]
    assert "GPU-hours 24.0 -> 48.0 (adds 24.0)" in totals
    assert "cost $36.00 -> $72.00 (costs +$36.00)" in totals
    assert "adds 100.0 % to cost" in totals
    assert "saved" not in totals and "-$" not in totals


def test_a_positive_saving_still_reads_as_saved(tmp_path: Path) -> None:
    """Below the baseline: `saved` and the saving in percent, as before."""
    totals = plan(tmp_path, OFFICE, "--hours", "24", "--deployment", "llama-*").stdout.splitlines()[-1]
    assert "GPU-hours 24.0 -> 8.0 (saved 16.0)" in totals
    assert "cost $36.00 -> $12.00 (saved $24.00); saving 66.7 % of cost" in totals


def test_a_skipped_date_is_labelled_in_the_table(tmp_path: Path) -> None:
    """Tuesday is a skip date: the table says the window does not open that day; the JSON lists it."""
    table = plan(tmp_path, OFFICE, "--hours", "72", "--deployment", "llama-*")
    document = json.loads(plan(tmp_path, OFFICE, "--hours", "72", "--deployment", "llama-*", "-o", "json").stdout)
    lines = table.stdout.splitlines()
    label = "  Tue 2026-03-03  skip date: window day does not open"
    assert label in lines
    monday_close = next(index for index, line in enumerate(lines) if "2026-03-02 17:00Z" in line)
    wednesday_open = next(index for index, line in enumerate(lines) if "2026-03-04 09:00Z" in line)
    assert monday_close < lines.index(label) < wednesday_open
    assert [{"date": "2026-03-03", "windows": ["day"], "names": ["skip date"]}] == document["deployments"][0]["skipped_dates"]


def test_a_deployment_filter_matching_nothing_is_an_error(tmp_path: Path) -> None:
    """--deployment that matches no deployment: exit 1 naming the globs, no plan printed."""
    result = plan(tmp_path, OFFICE, "--deployment", "lama-*", "--deployment", "wisper")
    assert 1 == result.exit_code
    assert "" == result.stdout
    assert "error: no deployment matches --deployment 'lama-*', 'wisper' (3 deployments listed)\n" == result.stderr


def test_fail_on_conflict_exits_1_when_a_conflict_is_planned(tmp_path: Path) -> None:
    """--fail-on-conflict: the plan is printed, then exit 1 naming the deployment and the policies."""
    result = plan(tmp_path, TWO_AT_ONE_PRIORITY, "--hours", "24", "--fail-on-conflict")
    assert 1 == result.exit_code
    assert "CONFLICT between first, second" in result.stdout
    assert "error: 1 deployment in conflict: llama-8b (first, second)\n" == result.stderr


def test_a_conflict_without_the_flag_still_exits_0(tmp_path: Path) -> None:
    """Without --fail-on-conflict a conflict is shown and the exit status is 0."""
    assert 0 == plan(tmp_path, TWO_AT_ONE_PRIORITY, "--hours", "24").exit_code


def test_fail_on_conflict_passes_a_set_without_conflict(tmp_path: Path) -> None:
    """--fail-on-conflict with no conflict planned: exit 0."""
    result = plan(tmp_path, OFFICE, "--hours", "24", "--fail-on-conflict")
    assert (0, "") == (result.exit_code, result.stderr)


def test_live_warns_about_a_policy_that_matches_no_deployment(tmp_path: Path, sim_url: str) -> None:
    """--live: a policy that selects none of the organization's deployments is named on stderr; the plan goes on."""
    (tmp_path / "p.yaml").write_text(
        OFFICE + "  - name: ghost\n    match: {names: [lama-*]}\n    default: stopped\n"
    )
    result = CliRunner().invoke(
        main,
        ["plan", "--live", "--policies", str(tmp_path / "p.yaml"), "--from", MONDAY, "--hours", "1"],
        env=simulator_environment(sim_url),
    )
    assert 0 == result.exit_code, result.output
    assert ["warning: policy ghost matches none of the organization's deployments"] == result.stderr.splitlines()
    assert "llama-3-8b-chat" in result.stdout


INDIA = """\
version: 1
policies:
  - name: bangalore
    match: {names: ["llama-*"]}
    timezone: Asia/Kolkata
    default: stopped
    holidays: [{country: IN}]
    calendars: [closures.ics]
    windows:
      - name: day
        between: "09:00-18:00"
        state: running
"""

MONTHLY_CLOSURE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Closures//EN\r\nBEGIN:VEVENT\r\nUID:closure\r\n"
    "DTSTART;VALUE=DATE:20260105\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;INTERVAL=2\r\nEXDATE;VALUE=DATE:20270118\r\n"
    "SUMMARY:Office closed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def plan_from(tmp_path: Path, policies: str, start: str, hours: int) -> list[str]:
    """The table's lines of ``scaler plan`` for the llama deployment from ``start``, with closures.ics beside the policy."""
    (tmp_path / "p.yaml").write_text(policies)
    (tmp_path / "closures.ics").write_text(MONTHLY_CLOSURE)
    (tmp_path / "inventory.json").write_text(json.dumps(INVENTORY))
    result = CliRunner().invoke(
        main,
        ["plan", "--policies", str(tmp_path / "p.yaml"), "--inventory", str(tmp_path / "inventory.json"),
         "--from", start, "--hours", str(hours), "--deployment", "llama-*"],
    )
    assert 0 == result.exit_code, result.output
    return result.stdout.splitlines()


def test_holidays_of_india_and_a_recurring_closure_are_skipped_by_name(tmp_path: Path) -> None:
    """With ``holidays: [{country: IN}]`` Diwali and Republic Day are skipped with no date written, and every
    other-Monday closure of the .ics file (but its EXDATE) too, each named."""
    november = plan_from(tmp_path, INDIA, "2026-11-07T00:00", 72)
    assert "  Sun 2026-11-08  skipped: Diwali (IN): window day does not open" in november
    assert "  Mon 2026-11-09  skipped: Office closed: window day does not open" in november
    january = plan_from(tmp_path, INDIA, "2027-01-17T00:00", 24 * 21)
    skipped = [line for line in january if "does not open" in line]
    assert [
        "  Tue 2027-01-26  skipped: Republic Day (IN): window day does not open",
        "  Mon 2027-02-01  skipped: Office closed: window day does not open",
    ] == skipped


def test_plan_reads_the_start_ups_the_daemon_recorded(tmp_path: Path) -> None:
    """``lead_time: auto``: the plan uses the start-ups in the state store at SCALER_STATE_URL and names their p90."""
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(state_url) as store:
        for day in range(4):
            store.record_startup(UUID(str(INVENTORY[1]["deployment_id"])), utc_day(day), 1500.0, keep=20)
    (tmp_path / "p.yaml").write_text(PEAK_AUTO_FILE)
    (tmp_path / "inventory.json").write_text(json.dumps(INVENTORY))
    arguments = ["plan", "--policies", str(tmp_path / "p.yaml"), "--inventory", str(tmp_path / "inventory.json")]
    result = CliRunner().invoke(
        main, [*arguments, "--from", MONDAY, "--hours", "24", "--deployment", "llama-*"], env={"SCALER_STATE_URL": state_url}
    )
    assert 0 == result.exit_code, result.output
    lines = result.stdout.splitlines()
    assert "  lead time of window peak: 25m (auto: p90 of 4 starts)" in lines
    assert any("2026-03-02 08:35Z  running" in line for line in lines), lines


def test_plan_without_a_state_store_says_it_shows_the_initial_lead_time(tmp_path: Path) -> None:
    """No store at SCALER_STATE_URL: a note on stderr, and the initial lead time (15m) in the plan."""
    (tmp_path / "p.yaml").write_text(PEAK_AUTO_FILE)
    (tmp_path / "inventory.json").write_text(json.dumps(INVENTORY))
    arguments = ["plan", "--policies", str(tmp_path / "p.yaml"), "--inventory", str(tmp_path / "inventory.json")]
    result = CliRunner().invoke(
        main,
        [*arguments, "--from", MONDAY, "--hours", "24", "--deployment", "llama-*"],
        env={"SCALER_STATE_URL": f"sqlite:///{tmp_path / 'absent.db'}"},
    )
    assert 0 == result.exit_code, result.output
    assert result.stderr.startswith("note: lead_time: auto shows its initial lead time: no start-ups read ("), result.stderr
    assert "  lead time of window peak: 15m (auto: initial, 0 of 3 starts observed)" in result.stdout.splitlines()


def utc_day(day: int) -> datetime:
    """Midnight UTC ``day`` days before the plan's Monday."""
    return datetime(2026, 3, 1, tzinfo=timezone.utc) - timedelta(days=day)
