"""The alert rules as a file: an alert for every condition an operator must hear of, annotated, with its runbook
entry in the documentation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ALERTS, DASHBOARD
from tests.deploy.metric_names import PER_DEPLOYMENT_NAMES, exported_series_names, referenced_metric_names
from tests.doc_pages import MKDOCS_CONFIG, heading_anchor, marked_section

#: The runbook page of the documentation site, as MkDocs publishes docs/runbook.md.
RUNBOOK_PAGE = yaml.safe_load(MKDOCS_CONFIG.read_text())["site_url"].rstrip("/") + "/runbook/"
RUNBOOK_BASE = RUNBOOK_PAGE + "#"
#: The conditions that need a person (the scaler cannot act, acts wrongly, or a deployment it
#: governs stays unwell), and the alert that covers each.
REQUIRED_ALERTS = {
    "scaler down": "SimplismartScalerDown",
    "scaler not scraped": "SimplismartScalerAbsent",
    "reconcile stalled": "SimplismartScalerReconcileStalled",
    "actions failing repeatedly": "SimplismartScalerActionsFailing",
    "API auth failing": "SimplismartScalerApiAuthFailing",
    "wallet blocked": "SimplismartScalerWalletBlocked",
    "organization id refused": "SimplismartScalerOrgIdRefused",
    "policy reload failing": "SimplismartScalerPolicyReloadFailing",
    "policy conflicts present": "SimplismartScalerPolicyConflicts",
    "deployment Unhealthy too long": "SimplismartDeploymentUnhealthy",
    "deployment Degraded too long": "SimplismartDeploymentDegraded",
    "scheduled start not Healthy in time": "SimplismartDeploymentStartNotHealthy",
    "no leader among the replicas": "SimplismartScalerNoLeader",
    "more than one leader among the replicas": "SimplismartScalerMultipleLeaders",
}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _runbook_section() -> str:
    return marked_section("runbook.md", "runbook")


def test_every_required_alert_exists() -> None:
    """Each condition that needs a person has its alert."""
    names = {rule.get("alert") for rule in _rules()}
    assert {} == {condition: alert for condition, alert in REQUIRED_ALERTS.items() if alert not in names}


def test_alert_names_are_unique() -> None:
    """No two rules share an alert name."""
    names = [rule["alert"] for rule in _rules()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_alert_is_annotated(rule: dict[str, Any]) -> None:
    """Each alert has a severity, a summary, a description and a runbook link of its own."""
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
    assert rule["annotations"]["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_alert_waits_before_firing(rule: dict[str, Any]) -> None:
    """Each alert holds for at least a minute, so one bad scrape pages nobody."""
    assert re.fullmatch(r"\d+m", rule["for"]) and int(rule["for"][:-1]) >= 1


def test_every_runbook_link_has_its_runbook_entry() -> None:
    """Each runbook_url anchor is a heading of the runbook page."""
    anchors = {
        heading_anchor(heading)
        for heading in re.findall(r"^#{2,3} (.+)$", _runbook_section(), re.MULTILINE)
    }
    missing = [rule["alert"] for rule in _rules() if rule["annotations"]["runbook_url"].split("#")[1] not in anchors]
    assert [] == missing


def test_dashboard_links_to_the_runbook_page() -> None:
    """The dashboard's Runbook link opens the documentation's runbook page."""
    links = json.loads(DASHBOARD.read_text())["links"]
    assert [RUNBOOK_PAGE] == [link["url"] for link in links if link["title"] == "Runbook"]


def test_heading_anchor_is_the_one_mkdocs_gives() -> None:
    """Each runbook heading, and one full of punctuation, gets the anchor MkDocs' toc extension gives it."""
    from markdown.extensions.toc import slugify  # MkDocs' own (the docs extra), so imported only here

    headings = [*re.findall(r"^## (.+)$", _runbook_section(), re.MULTILINE), "scaler demo [--for DURATION] [--port N]"]
    assert [slugify(heading, "-") for heading in headings] == [heading_anchor(heading) for heading in headings]


def test_runbook_says_what_to_do_for_each_alert() -> None:
    """The runbook has one section per alert, each saying what it means and what to do."""
    sections = {
        section.splitlines()[0].strip(): section
        for section in re.split(r"^## ", _runbook_section(), flags=re.MULTILINE)[1:]
    }
    assert {rule["alert"] for rule in _rules()} == set(sections)
    incomplete = [
        name for name, text in sections.items()
        if "What it means" not in text or "What to do" not in text or len(text.split()) < 40
    ]
    assert [] == incomplete


def test_every_metric_in_the_rules_exists_in_the_daemon() -> None:
    """Every scaler_* name in an alert expression is a series the daemon exports."""
    text = " ".join(rule["expr"] for rule in _rules())
    assert set() == referenced_metric_names(text) - exported_series_names()


def test_no_alert_reads_a_per_deployment_series() -> None:
    """Every alert reads only series each SCALER_METRICS_DEPLOYMENT_DETAIL exports (the deployment alerts the
    per-policy ones), so none falls silent with compact or off."""
    reading = {rule["alert"]: sorted(referenced_metric_names(rule["expr"]) & PER_DEPLOYMENT_NAMES) for rule in _rules()}
    assert {rule["alert"]: [] for rule in _rules()} == reading
