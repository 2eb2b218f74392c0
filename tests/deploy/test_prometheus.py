"""The dashboard and the alert rules, proven against a real Prometheus server.

Two Prometheus servers on loopback scrape every second: one scrapes only the daemon
(the dashboard must work from its series alone), the other also scrapes a scaler in
trouble and a port where nothing listens, and evaluates files/alerts.yaml. Every
dashboard query and every alert expression then goes through the HTTP API.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.conftest import ALERTS
from tests.deploy.dashboard import (
    dashboard_targets,
    load_dashboard,
    substitute_variables,
    variable_queries,
)
from tests.deploy.metrics_target import TROUBLED, TROUBLED_IDS_BY_ALERT
from tests.deploy.prometheus_harness import JOB, PrometheusServer, ScrapeTarget, free_port, wait_for

pytestmark = pytest.mark.integration

#: Panels that must show data on a working scaler, not just run.
CORE_PANELS = (
    "Actions per minute by action and result",
    "Health per deployment",
    "Status per deployment",
    "Running GPUs by accelerator",
    "GPU-hours saved today",
    "GPU-hours saved, 7 days",
    "Dollars saved today",
    "Dollars saved, 7 days",
    "Saving rate by accelerator",
    "Last reconcile",
    "Reconcile duration and age",
    "Next transition per deployment",
)
#: Scrapes stored before the dashboard is queried: enough for every 4 s rate window.
DASHBOARD_SCRAPES = 6


@dataclass
class Servers:
    """The two Prometheus servers and what they scrape."""

    dashboard: PrometheusServer
    alerts: PrometheusServer
    daemon: ScrapeTarget
    troubled: ScrapeTarget
    dead_target: str
    started_at: float


@pytest.fixture(scope="module")
def servers(
    prometheus_binary: str,
    daemon_target: ScrapeTarget,
    troubled_target: ScrapeTarget,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    """Both Prometheus servers, started together and holding enough samples."""
    dead_target = f"127.0.0.1:{free_port()}"
    dashboard = PrometheusServer(
        binary=prometheus_binary, workdir=tmp_path_factory.mktemp("prometheus-dashboard"),
        targets=[daemon_target.address],
    )
    alerts = PrometheusServer(
        binary=prometheus_binary, workdir=tmp_path_factory.mktemp("prometheus-alerts"),
        targets=[daemon_target.address, troubled_target.address, dead_target], rule_files=[ALERTS],
    )
    started_at = time.time()
    try:
        dashboard.start()
        alerts.start()
        dashboard.wait_for_samples(daemon_target.address, DASHBOARD_SCRAPES)
        alerts.wait_for_samples(troubled_target.address, 3)
        yield Servers(dashboard, alerts, daemon_target, troubled_target, dead_target, started_at)
    finally:
        dashboard.stop()
        alerts.stop()


@dataclass(frozen=True)
class ScrapedDeployment:
    """One deployment as the daemon's own /metrics describes it."""

    name: str
    policy: str
    health: str


def scraped_deployments(target: ScrapeTarget) -> list[ScrapedDeployment]:
    """Return the deployments a scrape of ``target`` reports, with their policy and current health.

    The dashboard tests take their expectations from here, not from the stand-in's
    source, so they hold unchanged when the target becomes the real daemon.
    """
    policies: dict[str, str] = {}
    health: dict[str, str] = {}
    for family in text_string_to_metric_families(target.scrape().decode()):
        for sample in family.samples:
            if sample.name == "scaler_deployment_info":
                policies[sample.labels["deployment"]] = sample.labels.get("policy", "")
            elif sample.name == "scaler_deployment_health" and sample.value == 1:
                health[sample.labels["deployment"]] = sample.labels["health"]
    return [ScrapedDeployment(name, policy, health.get(name, "")) for name, policy in sorted(policies.items())]


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def _run_promtool(promtool: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([promtool, *args], input=stdin, capture_output=True, timeout=60, check=False)


# --- promtool -------------------------------------------------------------------


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    """`promtool check rules` accepts files/alerts.yaml and counts every rule in it."""
    result = _run_promtool(promtool, "check", "rules", str(ALERTS))
    output = (result.stdout + result.stderr).decode()
    assert 0 == result.returncode, output
    assert f"SUCCESS: {len(_alert_rules())} rules found" in output


def test_promtool_rejects_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """The rules check can fail: one unbalanced parenthesis makes promtool reject the file."""
    broken = ALERTS.read_text().replace("scaler_api_auth_ok == 0", "(scaler_api_auth_ok == 0", 1)
    path = tmp_path / "alerts.yaml"
    path.write_text(broken)
    result = _run_promtool(promtool, "check", "rules", str(path))
    assert 1 == result.returncode


@pytest.mark.parametrize("which", ["daemon_target", "troubled_target"])
def test_promtool_accepts_a_real_scrape(promtool: str, which: str, request: pytest.FixtureRequest) -> None:
    """`promtool check metrics` finds nothing to criticise in a real scrape of /metrics."""
    target: ScrapeTarget = request.getfixturevalue(which)
    scrape = target.scrape()
    result = _run_promtool(promtool, "check", "metrics", stdin=scrape)
    assert (0, b"") == (result.returncode, result.stdout + result.stderr)
    assert b"scaler_actions_total" in scrape


# --- the dashboard ----------------------------------------------------------------


def _run_all(server: PrometheusServer, deployment: str, policy: str) -> list[str]:
    failures = []
    for panel, target in dashboard_targets(load_dashboard()):
        expr = substitute_variables(target["expr"], deployment=deployment, policy=policy)
        answer = server.query(expr)
        if answer.get("status") != "success":
            failures.append(f"{panel['title']} / {target['refId']}: {answer.get('error')}\n  {expr}")
    return failures


def test_every_dashboard_query_runs_with_all_values(servers: Servers) -> None:
    """Every panel query, with $deployment and $policy at "All", is accepted and evaluated."""
    assert [] == _run_all(servers.dashboard, deployment=".*", policy=".*")


def test_every_dashboard_query_runs_with_one_deployment_and_policy(servers: Servers) -> None:
    """Every panel query also runs with a real deployment and policy picked in the variables."""
    deployment = next(d for d in scraped_deployments(servers.daemon) if d.policy)
    assert re.fullmatch(r"[a-z0-9-]+", deployment.name + deployment.policy), "pick values needing no regex escape"
    assert [] == _run_all(servers.dashboard, deployment=deployment.name, policy=deployment.policy)


def test_dashboard_variables_find_the_deployments_and_policies(servers: Servers) -> None:
    """The policy and deployment variables' queries list the daemon's policies and deployments."""
    found = {}
    for name, selector, label in variable_queries(load_dashboard()):
        series = servers.dashboard.vector(substitute_variables(selector, deployment=".*", policy=".*"))
        found[name] = {s["metric"][label] for s in series if label in s["metric"]}
    deployments = scraped_deployments(servers.daemon)
    expected = {"policy": {d.policy for d in deployments if d.policy}, "deployment": {d.name for d in deployments}}
    assert expected == found


@pytest.mark.parametrize("title", CORE_PANELS)
def test_core_panel_shows_data(servers: Servers, title: str) -> None:
    """Each query of a core panel returns at least one series from the daemon's metrics."""
    panels = {panel["title"]: panel for panel, _ in dashboard_targets(load_dashboard())}
    empty = []
    for target in panels[title]["targets"]:
        expr = substitute_variables(target["expr"], deployment=".*", policy=".*")
        if not servers.dashboard.vector(expr):
            empty.append(target["refId"])
    assert [] == empty


def test_health_timeline_shows_each_deployments_health(servers: Servers) -> None:
    """The health timeline encodes each deployment's current health as its mapped number."""
    panel = next(p for p, _ in dashboard_targets(load_dashboard()) if p["title"] == "Health per deployment")
    codes = {}
    for mapping in panel["fieldConfig"]["defaults"]["mappings"]:
        for value, option in mapping["options"].items():
            codes[int(value)] = option["text"]
    expr = substitute_variables(panel["targets"][0]["expr"], deployment=".*", policy=".*")
    shown = {s["metric"]["deployment"]: codes[int(float(s["value"][1]))] for s in servers.dashboard.vector(expr)}
    assert {d.name: d.health for d in scraped_deployments(servers.daemon)} == shown


# --- the alert rules ----------------------------------------------------------------


def test_every_alert_expression_runs(servers: Servers) -> None:
    """Every alert expression is accepted and evaluated by Prometheus' query API."""
    failures = []
    for rule in _alert_rules():
        answer = servers.alerts.query(rule["expr"])
        if answer.get("status") != "success":
            failures.append(f"{rule['alert']}: {answer.get('error')}")
    assert [] == failures


def test_prometheus_evaluates_every_rule_without_error(servers: Servers) -> None:
    """Loaded from the rules file, every rule is evaluated by Prometheus with health "ok"."""

    def evaluated() -> dict[str, str] | None:
        groups = servers.alerts.api("rules")["data"]["groups"]
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        if len(rules) < len(_alert_rules()) or any(r["lastEvaluation"].startswith("0001") for r in rules.values()):
            return None
        return {name: f"{rule['health']} {rule.get('lastError', '')}".strip() for name, rule in rules.items()}

    health = wait_for(evaluated, timeout=20, what="every rule to be evaluated")
    assert {rule["alert"]: "ok" for rule in _alert_rules()} == health


def _active_alerts(server: PrometheusServer) -> list[dict[str, Any]]:
    return server.api("alerts")["data"]["alerts"]


def test_every_alert_fires_for_the_troubled_scaler(servers: Servers) -> None:
    """Each alert (but the absence one) is pending or firing, on the instance or deployments it should name."""
    expected = {rule["alert"]: {servers.troubled.address} for rule in _alert_rules()}
    expected.pop("SimplismartScalerAbsent")
    expected["SimplismartScalerDown"] = {servers.dead_target}
    expected.update(TROUBLED_IDS_BY_ALERT)
    troubled_ids = {d.deployment_id for d in TROUBLED}

    def named() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for alert in _active_alerts(servers.alerts):
            labels = alert["labels"]
            if "deployment_id" in labels:
                if labels["deployment_id"] in troubled_ids:
                    seen.setdefault(labels["alertname"], set()).add(labels["deployment_id"])
            else:
                seen.setdefault(labels["alertname"], set()).add(labels.get("instance", ""))
        return seen

    def all_there() -> dict[str, set[str]] | None:
        seen = named()
        return seen if set(seen) >= set(expected) else None

    wait_for(all_there, timeout=20, what="every alert to become active")
    assert expected == named()


def test_no_scaler_alert_names_the_healthy_scaler(servers: Servers) -> None:
    """While the troubled scaler's alerts are active, none names the healthy daemon's instance."""
    wait_for(lambda: _active_alerts(servers.alerts), timeout=20, what="any alert to become active")
    named = sorted(
        alert["labels"]["alertname"]
        for alert in _active_alerts(servers.alerts)
        if alert["labels"].get("instance") == servers.daemon.address
    )
    assert [] == named


def test_absent_alert_fires_only_when_no_scaler_is_scraped(servers: Servers) -> None:
    """The absence expression returns a series before any scrape existed, and none now."""
    rule = next(r for r in _alert_rules() if r["alert"] == "SimplismartScalerAbsent")
    before = servers.alerts.query(rule["expr"], time=f"{servers.started_at - 600:.3f}")
    assert ("success", [{"job": JOB}]) == (
        before["status"], [s["metric"] for s in before["data"]["result"]]
    )
    assert [] == servers.alerts.vector(rule["expr"])

