"""``scaler validate`` and ``scaler plan`` as a user runs them: output, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaler.cli.main import main
from scaler.policy.schema import render_schema
from scaler.policy.shipped import example_texts

from .helpers import OFFICE_FILE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
INVENTORY = ROOT / "examples" / "inventory.json"

BAD = """\
version: 1
policies:
  - name: office
    match: {names: ["llama-*"]}
    timezone: Europe/Berln
    windows:
      - cron: "0 9 * * 8"
        duration: 8h
        state: stopped
"""
INVENTORY_TEXT = json.dumps(
    [
        {
            "deployment_id": "1e99a854-26de-4c19-b6b6-68c7e03c39c3",
            "deployment_name": "llama-8b",
            "model_repo_id": "0caac439-5518-4569-a3db-a2d505a189f2",
            "model_repo_name": "llama",
            "model_type": "custom",
            "accelerator_type": ["nvidia-l4"],
            "accelerator_count": 1,
            "status": "DEPLOYED",
        },
        {
            "deployment_id": "3bda38dc-e4be-43c2-a5eb-4d23ed4d3970",
            "deployment_name": "whisper",
            "accelerator_type": ["nvidia-tesla-t4"],
            "accelerator_count": 1,
            "status": "DEPLOYED",
        },
    ]
)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_validate_valid_files_prints_a_summary_and_exits_0(tmp_path: Path):
    """A valid set: exit 0 and one summary line."""
    (tmp_path / "good.yaml").write_text(OFFICE_FILE)
    result = run("validate", str(tmp_path))
    assert (0, "valid: 1 policy, 1 window, 0 health rules in 1 file\n") == (result.exit_code, result.stdout)


def test_validate_lists_every_error_and_exits_1(tmp_path: Path):
    """An invalid file: every problem as FILE:LINE: PATH: message on stdout, a count on stderr, exit 1."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = run("validate", str(bad))
    assert 1 == result.exit_code
    assert [
        f"{bad}:5: policies[0].timezone: unknown time zone 'Europe/Berln'; did you mean Europe/Berlin?",
        f"{bad}:7: policies[0].windows[0].cron: day-of-week 8 is out of range; day-of-week takes 0-7 (0 and 7 are Sunday)",
    ] == result.stdout.splitlines()
    assert "error: 2 problems in the policy files\n" == result.stderr


def test_validate_unreadable_path_exits_2(tmp_path: Path):
    """A path that does not exist: one line on stderr, exit 2."""
    result = run("validate", str(tmp_path / "missing"))
    assert (2, f"error: {tmp_path / 'missing'}: no such directory\n") == (result.exit_code, result.stderr)


def test_a_missing_default_policy_path_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """validate without PATHS reads SCALER_POLICY_PATH: a missing default says so, and where it looked."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCALER_POLICY_PATH", raising=False)
    result = run("validate")
    assert 2 == result.exit_code
    assert [
        f"error: SCALER_POLICY_PATH=./policies (the default): no such directory (relative to {tmp_path})"
    ] == result.stderr.splitlines()


def test_a_missing_policy_path_from_the_environment_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A SCALER_POLICY_PATH set in the environment is named with its value and its origin."""
    monkeypatch.setenv("SCALER_POLICY_PATH", str(tmp_path / "office.yaml"))
    result = run("validate")
    assert 2 == result.exit_code
    assert [
        f"error: SCALER_POLICY_PATH={tmp_path / 'office.yaml'} (from the environment): no such file"
    ] == result.stderr.splitlines()


def test_a_missing_policies_option_names_the_option(tmp_path: Path):
    """plan --policies PATH that does not exist names the option."""
    result = run("plan", "--policies", str(EXAMPLES), "--policies", str(tmp_path / "more"), "--inventory", str(INVENTORY))
    assert 2 == result.exit_code
    assert [f"error: --policies {tmp_path / 'more'}: no such directory"] == result.stderr.splitlines()


def test_validate_directory_without_policy_files_exits_1(tmp_path: Path):
    """A directory with no .yaml/.yml file is reported, not silently accepted."""
    result = run("validate", str(tmp_path))
    assert (
        1,
        f"error: {tmp_path} holds no policy file (.yaml, .yml); policy files are read from the directory itself, "
        "not from its subdirectories\n",
    ) == (result.exit_code, result.stderr)


def test_validate_points_at_subdirectories_holding_policy_files(tmp_path: Path):
    """Policy files one level down are not read; the message says where they are."""
    (tmp_path / "team-a").mkdir()
    (tmp_path / "team-a" / "office.yaml").write_text(OFFICE_FILE)
    (tmp_path / "notes").mkdir()
    result = run("validate", str(tmp_path))
    assert 1 == result.exit_code
    assert [
        f"error: {tmp_path} holds no policy file (.yaml, .yml); policy files are read from the directory itself, "
        f"not from its subdirectories, and {tmp_path / 'team-a'}/ holds 1: point the policy path at it, "
        "or move the files up"
    ] == result.stderr.splitlines()


def test_validate_refuses_a_set_with_pricing_only(tmp_path: Path):
    """Files that declare no policy (a pricing block alone) are no policy set: exit 1 saying so."""
    (tmp_path / "pricing.yaml").write_text("version: 1\npricing: {nvidia-l4: 1.5}\n")
    result = run("validate", str(tmp_path))
    assert 1 == result.exit_code
    assert [f"error: {tmp_path} holds no policy: pricing.yaml has none under policies"] == [
        line.split(";")[0] for line in result.stderr.splitlines()
    ]


def test_validate_from_the_repository_root_says_that_policies_holds_only_examples(monkeypatch: pytest.MonkeyPatch):
    """With the default settings at the repository's root, ./policies holds only policies/examples/: say so."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SCALER_POLICY_PATH", raising=False)
    result = run("validate")
    assert 1 == result.exit_code
    assert [
        "error: SCALER_POLICY_PATH=./policies (the default) holds no policy file (.yaml, .yml); policy files are "
        "read from the directory itself, not from its subdirectories, and policies/examples/ holds 7: point "
        "the policy path at it, or move the files up"
    ] == result.stderr.splitlines()


def test_validate_the_examples():
    """The shipped examples are valid."""
    result = run("validate", str(EXAMPLES))
    assert 0 == result.exit_code, result.output
    assert result.stdout.startswith("valid: 9 policies")


def test_schema_prints_the_policy_schema():
    """`scaler schema` prints the policy JSON Schema, exactly as the models generate it."""
    result = run("schema")
    assert (0, render_schema()) == (result.exit_code, result.stdout)
    assert "https://json-schema.org/draft/2020-12/schema" == json.loads(result.stdout)["$schema"]


def test_examples_writes_the_shipped_examples_that_validate(tmp_path: Path):
    """`scaler examples DIR` creates DIR with every shipped example, byte for byte, and they validate."""
    directory = tmp_path / "new" / "policies"
    result = run("examples", str(directory))
    assert 0 == result.exit_code, result.output
    assert example_texts() == {path.name: path.read_text() for path in sorted(directory.iterdir())}
    assert run("validate", str(directory)).stdout.startswith("valid: 9 policies")


def test_examples_never_overwrite_a_file(tmp_path: Path):
    """With one example's name already taken, nothing is written, the file is untouched and the exit is 1."""
    (tmp_path / "10-office-hours.yaml").write_text("mine\n")
    result = run("examples", str(tmp_path))
    assert (1, "error: ", ["10-office-hours.yaml"], "mine\n") == (
        result.exit_code, result.stderr[:7], sorted(p.name for p in tmp_path.iterdir()),
        (tmp_path / "10-office-hours.yaml").read_text(),
    )
    assert "10-office-hours.yaml" in result.stderr


def test_examples_into_an_unwritable_place_exits_2(tmp_path: Path):
    """A directory that cannot be created (a file is in the way) is exit 2 naming it."""
    (tmp_path / "taken").write_text("a file\n")
    result = run("examples", str(tmp_path / "taken" / "policies"))
    assert (2, True) == (result.exit_code, result.stderr.startswith(f"error: {tmp_path / 'taken' / 'policies'}: cannot be written"))


def test_plan_json_is_one_object_with_the_documented_shape(tmp_path: Path):
    """--output json prints exactly one JSON object; transitions start at --from."""
    (tmp_path / "good.yaml").write_text(OFFICE_FILE)
    (tmp_path / "inventory.json").write_text(INVENTORY_TEXT)
    result = run(
        "plan", "--policies", str(tmp_path / "good.yaml"), "--inventory", str(tmp_path / "inventory.json"),
        "--from", "2026-03-02T00:00", "--hours", "24", "--output", "json",
    )
    assert 0 == result.exit_code, result.output
    plan = json.loads(result.stdout)
    assert ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z") == (plan["from"], plan["until"])
    assert [["2026-03-02T00:00:00Z", "stopped"], ["2026-03-02T09:00:00Z", "running"], ["2026-03-02T17:00:00Z", "stopped"]] == [
        [t["at"], t["state"]] for t in plan["deployments"][0]["transitions"]
    ]
    assert {"baseline": 48.0, "planned": 32.0} == plan["totals"]["gpu_hours"]


def test_plan_from_with_offset_is_converted_to_utc(tmp_path: Path):
    """--from with an offset is that instant; the output is in UTC with Z."""
    (tmp_path / "good.yaml").write_text(OFFICE_FILE)
    (tmp_path / "inventory.json").write_text(INVENTORY_TEXT)
    result = run(
        "plan", "--policies", str(tmp_path / "good.yaml"), "--inventory", str(tmp_path / "inventory.json"),
        "--from", "2026-03-02T01:00+01:00", "--hours", "1", "--output", "json",
    )
    assert "2026-03-02T00:00:00Z" == json.loads(result.stdout)["from"]


def test_plan_deployment_glob_filters(tmp_path: Path):
    """--deployment keeps only deployments whose name matches."""
    (tmp_path / "good.yaml").write_text(OFFICE_FILE)
    (tmp_path / "inventory.json").write_text(INVENTORY_TEXT)
    result = run(
        "plan", "--policies", str(tmp_path / "good.yaml"), "--inventory", str(tmp_path / "inventory.json"),
        "--deployment", "whis*", "--output", "json",
    )
    assert ["whisper"] == [d["deployment_name"] for d in json.loads(result.stdout)["deployments"]]


def test_plan_table_shows_transitions_and_totals():
    """The table lists each deployment's transitions in local and UTC time and the saving."""
    result = run("plan", "--policies", str(EXAMPLES), "--inventory", str(INVENTORY), "--from", "2026-12-21T00:00", "--hours", "24")
    assert 0 == result.exit_code, result.output
    assert "  Mon 2026-12-21 07:50 CET    2026-12-21 06:50Z  min=1 max=3    window:office" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith("Totals: GPU-hours ")


def test_plan_with_invalid_policies_exits_1(tmp_path: Path):
    """Invalid policies stop the plan with the issues listed."""
    (tmp_path / "bad.yaml").write_text(BAD)
    result = run("plan", "--policies", str(tmp_path), "--inventory", str(INVENTORY))
    assert 1 == result.exit_code
    assert "policies[0].timezone" in result.stdout


def test_plan_with_malformed_inventory_exits_1(tmp_path: Path):
    """An inventory that is not a JSON array of deployments is one clear line, exit 1."""
    (tmp_path / "inventory.json").write_text('{"deployments": []}')
    result = run("plan", "--policies", str(EXAMPLES), "--inventory", str(tmp_path / "inventory.json"))
    assert 1 == result.exit_code
    assert "expected a JSON array of deployments" in result.stderr


def test_plan_with_missing_inventory_exits_2(tmp_path: Path):
    """An inventory file that cannot be read: exit 2."""
    result = run("plan", "--policies", str(EXAMPLES), "--inventory", str(tmp_path / "none.json"))
    assert 2 == result.exit_code
    assert "cannot be read" in result.stderr


def test_plan_bad_from_is_a_usage_error():
    """--from that is not ISO 8601 is a usage error (exit 2)."""
    result = run("plan", "--policies", str(EXAMPLES), "--inventory", str(INVENTORY), "--from", "next tuesday")
    assert 2 == result.exit_code
    assert "is not ISO 8601" in result.stderr
