"""The committed JSON Schema is current, and the shipped examples load, validate and plan meaningfully.

Both live in the package (scaler/policy/schema.json and scaler/policy/examples/), read
through scaler.policy.shipped; policies/schema.json and policies/examples of the
repository are links to them, never copies.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml

import scaler.policy

from scaler.policy.loader import load_policy_set, load_policy_text
from scaler.policy.model import DesiredState
from scaler.policy.plan import build_plan
from scaler.policy.schema import SCHEMA_ID, render_schema
from scaler.policy.shipped import example_texts, examples_directory, schema_text
from scaler.simplismart.models import Deployment
from tests.doc_pages import marked_section

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(scaler.policy.__file__).parent
SCHEMA = PACKAGE / "schema.json"
EXAMPLES = PACKAGE / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
INVENTORY = [Deployment.model_validate(item) for item in json.loads((ROOT / "examples" / "inventory.json").read_text())]


def test_schema_file_is_current():
    """scaler/policy/schema.json equals what the models generate (regenerate: make schema)."""
    assert render_schema() == SCHEMA.read_text(), "scaler/policy/schema.json is stale: run make schema"


def test_shipped_schema_is_the_schema_file():
    """The schema read as package data is the committed file."""
    assert SCHEMA.read_text() == schema_text()


def test_shipped_examples_are_the_example_files():
    """The examples read as package data are the committed files, all of them, in name order."""
    assert {path.name: path.read_text() for path in EXAMPLE_FILES} == example_texts()
    assert list(example_texts()) == sorted(example_texts())


def test_examples_directory_holds_the_examples():
    """The examples' directory on the file system is the package's own (an installed package is a directory)."""
    with examples_directory() as directory:
        assert (EXAMPLES, [p.name for p in EXAMPLE_FILES]) == (directory, sorted(p.name for p in directory.glob("*.yaml")))


@pytest.mark.parametrize(("link", "target"), [("policies/examples", EXAMPLES), ("policies/schema.json", SCHEMA)])
def test_repository_paths_are_links_to_the_packaged_files(link: str, target: Path):
    """policies/examples and policies/schema.json are symbolic links to the package's files: one copy, no drift."""
    path = ROOT / link
    assert (True, target) == (path.is_symlink(), path.resolve())


def test_schema_id_is_the_raw_file_in_the_repository():
    """The schema's $id is the raw (plain JSON) URL of the committed file, at its real path, for an editor modeline."""
    prefix = "https://raw.githubusercontent.com/simplismart/simplismart-scaler/main/"
    assert (True, SCHEMA) == (SCHEMA_ID.startswith(prefix), ROOT / SCHEMA_ID.removeprefix(prefix))
    assert SCHEMA_ID == json.loads(SCHEMA.read_text())["$id"]


def test_schema_is_a_valid_json_schema():
    """The schema itself is valid draft 2020-12."""
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.name)
def test_examples_satisfy_the_schema(example: Path):
    """Every example file validates against the schema an editor would use."""
    jsonschema.validate(yaml.safe_load(example.read_text()), json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.name)
def test_examples_point_editors_at_the_schema(example: Path):
    """Every example starts with the yaml-language-server schema comment."""
    assert "# yaml-language-server: $schema=../schema.json" == example.read_text().splitlines()[0]


def test_schema_rejects_an_unknown_key():
    """The schema catches a typo an editor should underline."""
    document = {"version": 1, "policies": [{"name": "p", "match": {"names": ["a"]}, "timezon": "UTC"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_examples_show_every_feature():
    """The examples together use office hours, night and weekend stops, a holiday, lead time, both health reactions and expiry."""
    policy_set = load_policy_set([EXAMPLES])
    windows = [window for policy in policy_set.policies for window in policy.windows]
    rules = [rule for policy in policy_set.policies for rule in policy.health]
    assert {"cron", "between", "absolute"} == {window.timing for window in windows}
    assert any(window.lead_time for window in windows)
    assert any(rule.state is not None for rule in rules) and any(rule.is_restart for rule in rules)
    assert any(policy.expire is not None for policy in policy_set.policies)
    assert any(policy.skip_dates for policy in policy_set.policies)
    assert any(policy.holidays for policy in policy_set.policies)
    assert any(policy.enforce for policy in policy_set.policies)
    assert 3.80 == policy_set.pricing["nvidia-h100"]


def test_default_policy_path_does_not_load_the_examples():
    """policies/ (the default SCALER_POLICY_PATH) is read non-recursively: the examples do not load by accident."""
    assert () == load_policy_set([ROOT / "policies"]).policies


def test_examples_govern_the_seed_deployments_as_described():
    """Against the simulator's seed, each example governs the deployment SEED.md gives it, the canary none."""
    plan = build_plan(load_policy_set([EXAMPLES]), INVENTORY, datetime(2026, 12, 21, tzinfo=timezone.utc), datetime(2026, 12, 28, tzinfo=timezone.utc))
    governed = {entry.deployment.deployment_name: entry.policy for entry in plan.deployments}
    assert {
        "llama-3-8b-chat": "llama-office-hours",
        "llama-3-8b-chat-canary": None,
        "llama-3-70b-instruct": "llama-70b-peak",
        "whisper-v3": "whisper-night-stop",
        "mistral-7b-support": "mistral-weekend-stop",
        "sdxl-image-gen": "sdxl-us-office-hours",
        "embeddings-bge-large": "embeddings-degraded-shrink",
        "reranker-ms-marco": "reranker-unhealthy-restart",
        "code-assist-deepseek": "code-assist-holidays",
        "tmp-eval-qwen-32b": "temporary-deployments",
        "batch-transcribe": None,
        "vision-ocr-staging": None,
    } == governed
    assert ["legacy-gpt-j"] == [d.deployment_name for d in plan.skipped]


def test_holiday_shutdown_example_stops_over_christmas():
    """code-assist-deepseek is stopped from 24 December (Asia/Kolkata) by the year-end shutdown."""
    plan = build_plan(load_policy_set([EXAMPLES]), INVENTORY, datetime(2026, 12, 21, tzinfo=timezone.utc), datetime(2026, 12, 28, tzinfo=timezone.utc))
    entry = next(e for e in plan.deployments if e.deployment.deployment_name == "code-assist-deepseek")
    last = entry.transitions[-1]
    assert (datetime(2026, 12, 23, 15, 30, tzinfo=timezone.utc), DesiredState.stopped()) == (last.at, last.state)
    assert 0 < plan.savings_percent < 100


def test_docs_complete_file_is_valid():
    """The complete file shown on the policies page loads as written."""
    section = marked_section("policies.md", "policies")
    start = section.index("```yaml\n", section.index("## A complete file")) + len("```yaml\n")
    text = section[start : section.index("```", start)]
    policy_set = load_policy_text(text, "docs/policies.md")
    assert "1 policy, 3 windows, 2 health rules in 1 file" == policy_set.summary()
