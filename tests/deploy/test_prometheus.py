"""The dashboard and the alert rules, proven against a real Prometheus server and the real daemon.

The daemon is ``scaler run`` against ``scaler sim`` serving ``tests/deploy/organization``
(1 s cycles). Three Prometheus servers on loopback scrape every second:

- one scrapes only the daemon (the dashboard must work from its series alone);
- one evaluates files/alerts.yaml over several installs, told apart by their ``namespace``
  label as the Prometheus Operator labels targets: the daemon alone (a single instance
  on SQLite, its own leader, in the default ``compact`` detail); the stand-in of a scaler
  in trouble (``tests/deploy/metrics_target``, for the alerts a healthy daemon cannot
  raise) beside a port where nothing listens; two healthy replicas that both lead (a
  split brain); two healthy replicas that both stand by (no leader); and, for every
  ``SCALER_METRICS_DEPLOYMENT_DETAIL``, the troubled scaler and a healthy leader that
  counted a saving, each alone in its install (the dashboard and every alert are
  evaluated in each detail there);
- one scrapes two healthy replicas through a failover (the leader misses a scrape, both
  reload their policies, the leader counts a saving, steps down, and the standby takes
  over and counts one too), for the dashboard's view of several replicas and for the
  leadership alerts' silence through it.

While they scrape, a deployment is added to the simulator and the daemon stops it, so
there is an action to show. Every dashboard query then goes through the HTTP API as
Grafana sends it (instant or over a range, variables substituted), and so does every
alert expression.
"""

from __future__ import annotations

import math
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

from scaler.metrics import DEPLOYMENT_DETAILS, DEPLOYMENT_STATUSES, HEALTH_VALUES
from tests.deploy.conftest import ALERTS, DETAIL_TARGETS, REPLICAS, ReplicaTargets
from tests.deploy.dashboard import (
    INSTALLATION_VARIABLES,
    dashboard_annotations,
    dashboard_targets,
    load_dashboard,
    substitute_variables,
    variable_queries,
)
from tests.deploy.metric_names import FULL_ONLY_NAMES, referenced_metric_names
from tests.deploy.metrics_target import HEALTHY, OVERRIDDEN, SAVED_PER_COMMAND, TROUBLED_POLICIES_BY_ALERT
from tests.deploy.organization import LATE_DEPLOYMENT, OVERRIDE_LENGTH, add_deployment
from tests.deploy.prometheus_harness import (
    JOB,
    PrometheusServer,
    ServedProcess,
    TargetGroup,
    promtool_test_rules,
    wait_for,
)
from tests.processes import free_port

pytestmark = pytest.mark.integration

#: Panels that must show data from the daemon, not just run.
CORE_PANELS = (
    "Actions per minute by action and result",
    "Health per deployment",
    "Status per deployment",
    "Running GPUs",
    "Running GPUs by accelerator",
    "GPU-hours saved today",
    "GPU-hours saved, 7 days",
    "Dollars saved today",
    "Dollars saved, 7 days",
    "Saving now",
    "Saving rate by accelerator",
    "Last reconcile",
    "Reconcile duration and age",
    "Next transition per deployment",
    "Role per replica",
)
#: Scrapes stored before the late deployment is added: enough for every 4 s rate window.
DASHBOARD_SCRAPES = 6
#: The alerts about the leader election, proven on installs of several replicas.
LEADERSHIP_ALERTS = ("SimplismartScalerNoLeader", "SimplismartScalerMultipleLeaders")
#: The namespace label of each install the alerts' server scrapes.
SINGLE_INSTANCE, TROUBLED_INSTALL, SPLIT_BRAIN, NO_LEADER = "single-instance", "troubled", "split-brain", "no-leader"
#: The failover pair the replicas' server scrapes: the leader, then the standby that takes over.
OLD_LEADER, NEW_LEADER = "failover-a", "failover-b"
#: The install of the troubled scaler in each per-deployment detail (compact: the one beside a dead target).
TROUBLED_INSTALLS = {"full": "troubled-full", "compact": TROUBLED_INSTALL, "off": "troubled-off"}
#: The install of a healthy leader in each per-deployment detail.
HEALTHY_INSTALLS = {detail: f"healthy-{detail}" for detail in DEPLOYMENT_DETAILS}
#: Labels whose values the daemon draws from a closed list (the stand-in may use no others).
CLOSED_LABELS = ("action", "result", "reason", "event", "endpoint", "method", "status", "health", "ready", "bound",
                 "change")


@dataclass
class Servers:
    """The three Prometheus servers and what they scrape."""

    dashboard: PrometheusServer
    alerts: PrometheusServer
    replicas: PrometheusServer
    daemon: ServedProcess
    troubled: ServedProcess
    replica_targets: ReplicaTargets
    detail_targets: ReplicaTargets
    dead_target: str
    started_at: float
    failover_started_at: float

    def stand_in_scrapes(self) -> dict[str, bytes]:
        """One scrape of every stand-in (the troubled scaler and each replica), by name."""
        return {"troubled": self.troubled.scrape()} | {
            name: self.replica_targets.scrape(name) for name in REPLICAS
        }


def _late_deployment_stopped(server: PrometheusServer) -> bool:
    named = f'on (deployment_id) scaler_deployment_info{{deployment="{LATE_DEPLOYMENT["deployment_name"]}"}}'
    status = server.vector(f'scaler_deployment_status{{status="SCALED_DOWN"}} == 1 and {named}')
    health = server.vector(f'scaler_deployment_health{{health="SCALED_DOWN"}} == 1 and {named}')
    return bool(status and health)


def _has(server: PrometheusServer, expr: str) -> bool:
    return bool(server.vector(expr))


def play_failover(server: PrometheusServer, replicas: ReplicaTargets) -> float:
    """Play a failover from :data:`OLD_LEADER` to :data:`NEW_LEADER`, each step stored by ``server``;
    return the instant it began (both replicas scraped).

    Both replicas' savings are scraped at 0 first; then one scrape of the leader fails;
    both reload their policies and the leader counts one GPU-hour saved; the leader steps
    down, leaving a moment without a leader (a failover's takeover delay); the standby
    takes over and counts one GPU-hour saved.
    """
    old, new = replicas.address(OLD_LEADER), replicas.address(NEW_LEADER)
    server.wait_for_samples(old, 2)
    server.wait_for_samples(new, 2)
    began = time.time()
    replicas.command(OLD_LEADER, "fail-next-scrape")
    wait_for(
        "a failed scrape of the leader",
        lambda: _has(server, f'min_over_time(up{{instance="{old}"}}[1m]) == 0'),
        timeout=10,
    )
    for name in (OLD_LEADER, NEW_LEADER):
        replicas.command(name, "reload")
    replicas.command(OLD_LEADER, "save")
    wait_for(
        "the leader's saving and both reloads",
        lambda: _has(server, f'scaler_gpu_seconds_saved_total{{instance="{old}"}} > 0')
        and 2 == len(server.vector('scaler_policy_reloads_total{result="success"} == 2')),
        timeout=10,
    )
    replicas.command(OLD_LEADER, "step-down")
    wait_for("a moment without a leader", lambda: _has(server, "sum(scaler_leader) == 0"), timeout=10)
    replicas.command(NEW_LEADER, "lead")
    replicas.command(NEW_LEADER, "save")
    wait_for(
        "the new leader and its saving",
        lambda: _has(server, f'scaler_leader{{instance="{new}"}} == 1')
        and _has(server, f'scaler_gpu_seconds_saved_total{{instance="{new}"}} > 0'),
        timeout=10,
    )
    return began


@pytest.fixture(scope="module")
def servers(
    prometheus_binary: str,
    simulator: ServedProcess,
    daemon_target: ServedProcess,
    troubled_target: ServedProcess,
    replica_targets: ReplicaTargets,
    detail_targets: ReplicaTargets,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    """The three Prometheus servers, holding samples from before and after the daemon stopped a new
    deployment, and from before and after the replicas' failover."""
    dead_target = f"127.0.0.1:{free_port()}"
    dashboard = PrometheusServer(
        binary=prometheus_binary, workdir=tmp_path_factory.mktemp("prometheus-dashboard"),
        targets=[daemon_target.address],
    )
    alerts = PrometheusServer(
        binary=prometheus_binary, workdir=tmp_path_factory.mktemp("prometheus-alerts"), rule_files=[ALERTS],
        groups=[
            TargetGroup([daemon_target.address], {"namespace": SINGLE_INSTANCE}),
            TargetGroup([troubled_target.address, dead_target], {"namespace": TROUBLED_INSTALL}),
            TargetGroup([replica_targets.address(f"split-brain-{n}") for n in (1, 2)], {"namespace": SPLIT_BRAIN}),
            TargetGroup([replica_targets.address(f"no-leader-{n}") for n in (1, 2)], {"namespace": NO_LEADER}),
            *(TargetGroup([detail_targets.address(name)], {"namespace": name}) for name in DETAIL_TARGETS),
        ],
    )
    replicas = PrometheusServer(
        binary=prometheus_binary, workdir=tmp_path_factory.mktemp("prometheus-replicas"), rule_files=[ALERTS],
        targets=[replica_targets.address(OLD_LEADER), replica_targets.address(NEW_LEADER)],
    )
    started_at = time.time()
    try:
        dashboard.start()
        alerts.start()
        replicas.start()
        failover_started_at = play_failover(replicas, replica_targets)
        dashboard.wait_for_samples(daemon_target.address, DASHBOARD_SCRAPES)
        add_deployment(simulator.url, LATE_DEPLOYMENT)
        wait_for(
            f"Prometheus to see {LATE_DEPLOYMENT['deployment_name']} stopped by the daemon",
            lambda: _late_deployment_stopped(dashboard),
            timeout=20,
        )
        for name in HEALTHY_INSTALLS.values():
            alerts.wait_for_samples(detail_targets.address(name), 2)
            detail_targets.command(name, "save")
        for name in HEALTHY_INSTALLS.values():  # a scrape under way during the save may still show none
            wait_for(
                f"Prometheus to store the saving of {name}",
                lambda name=name: _has(alerts, f'scaler_policy_gpu_seconds_saved_total{{namespace="{name}"}} > 0'),
                timeout=20,
            )
        alerts.wait_for_samples(troubled_target.address, 3)
        for name in DETAIL_TARGETS:
            alerts.wait_for_samples(detail_targets.address(name), 3)
        yield Servers(dashboard, alerts, replicas, daemon_target, troubled_target, replica_targets, detail_targets,
                      dead_target, started_at, failover_started_at)
    finally:
        dashboard.stop()
        alerts.stop()
        replicas.stop()


# --- what the daemon itself says ------------------------------------------------------


@dataclass(frozen=True)
class ScrapedDeployment:
    """One deployment as the daemon's own /metrics describes it."""

    name: str
    deployment_id: str
    policy: str
    status: str
    health: str | None


def scraped_deployments(target: ServedProcess) -> list[ScrapedDeployment]:
    """Return the deployments a scrape of ``target`` reports, with policy, status and health (None: unknown).

    Keyed by ``deployment_id`` (in compact detail only the info series carries the name).
    """
    info: dict[str, tuple[str, str]] = {}
    status: dict[str, str] = {}
    health: dict[str, str] = {}
    for family in text_string_to_metric_families(target.scrape().decode()):
        for sample in family.samples:
            key = sample.labels.get("deployment_id", "")
            if sample.name == "scaler_deployment_info":
                info[key] = (sample.labels["deployment"], sample.labels["policy"])
            elif sample.name == "scaler_deployment_status" and sample.value == 1:
                status[key] = sample.labels["status"]
            elif sample.name == "scaler_deployment_health" and sample.value == 1:
                health[key] = sample.labels["health"]
    return sorted(
        (ScrapedDeployment(name, key, policy, status[key], health.get(key)) for key, (name, policy) in info.items()),
        key=lambda deployment: deployment.name,
    )


def scraped_value(target: ServedProcess, series: str) -> float:
    """Return the sum of the samples called ``series`` in one scrape of ``target``."""
    return scraped_total(target.scrape(), series)


def scraped_total(scrape: bytes, series: str, **labels: str) -> float:
    """Return the sum of the samples called ``series`` in ``scrape`` (those carrying ``labels``, if given)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(scrape.decode())
        for sample in family.samples
        if sample.name == series and labels.items() <= sample.labels.items()
    )


def series_signatures(scrape: bytes) -> dict[str, set[frozenset[str]]]:
    """Return, per series name of ``scrape``, the label-name sets its samples carry."""
    found: dict[str, set[frozenset[str]]] = {}
    for family in text_string_to_metric_families(scrape.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, set()).add(frozenset(sample.labels))
    return found


def closed_label_values(scrape: bytes) -> set[tuple[str, str, str]]:
    """Return the (series, label, value) triples of ``scrape`` for the labels of :data:`CLOSED_LABELS`."""
    return {
        (sample.name, label, value)
        for family in text_string_to_metric_families(scrape.decode())
        for sample in family.samples
        for label, value in sample.labels.items()
        if label in CLOSED_LABELS
    }


# --- the dashboard as Grafana queries it ------------------------------------------------


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def _run_promtool(promtool: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([promtool, *args], input=stdin, capture_output=True, timeout=60, check=False)


def grafana_query(
    servers: Servers,
    target: dict[str, Any],
    *,
    deployment: str = ".*",
    policy: str = ".*",
    server: PrometheusServer | None = None,
    **installation: str,
) -> dict[str, Any]:
    """Send ``target`` as Grafana does to ``server`` (the dashboard's by default): an instant query,
    or a range query over the time scraped so far. ``installation`` may set job, namespace and cluster."""
    server = server or servers.dashboard
    expr = substitute_variables(target["expr"], deployment=deployment, policy=policy, **installation)
    if target.get("instant"):
        return server.query(expr)
    return server.query_range(expr, **scraped_range(servers))


def scraped_range(servers: Servers) -> dict[str, float]:
    """The range since the servers started, in whole steps ending now (so the last point is the latest)."""
    end = time.time()
    return {"start": end - math.floor(end - servers.started_at), "end": end}


def grafana_series(
    servers: Servers, target: dict[str, Any], *, server: PrometheusServer | None = None, **variables: str
) -> list[tuple[dict[str, str], float]]:
    """Return each series of ``target`` with its last value, raising if Prometheus refused the query."""
    answer = grafana_query(servers, target, server=server, **variables)
    if answer.get("status") != "success":
        raise AssertionError(f"{target['expr']}: {answer.get('error')}")
    series = []
    for result in answer["data"]["result"]:
        point = result["value"] if "value" in result else result["values"][-1]
        series.append((result["metric"], float(point[1])))
    return series


def panel_targets(title: str) -> dict[str, dict[str, Any]]:
    """Return the queries of the panel called ``title``, by refId."""
    targets = {target["refId"]: target for panel, target in dashboard_targets(load_dashboard())
               if panel["title"] == title}
    assert targets, f"no panel {title!r}"
    return targets


def only_value(
    servers: Servers, title: str, ref_id: str = "A", *, server: PrometheusServer | None = None, **variables: str
) -> float:
    """Return the single value a stat panel's query shows."""
    series = grafana_series(servers, panel_targets(title)[ref_id], server=server, **variables)
    assert 1 == len(series), series
    return series[0][1]


def peaks(
    servers: Servers,
    target: dict[str, Any],
    labels: tuple[str, ...],
    server: PrometheusServer,
    span: dict[str, float] | None = None,
) -> dict[tuple[str, ...], float]:
    """Return the highest value of each series of ``target`` over ``span`` (by default the time
    scraped so far), keyed by ``labels``."""
    expr = substitute_variables(target["expr"], deployment=".*", policy=".*")
    answer = server.query_range(expr, **(span or scraped_range(servers)))
    assert "success" == answer["status"], answer
    return {
        tuple(s["metric"].get(label, "") for label in labels): max(float(v) for _, v in s["values"])
        for s in answer["data"]["result"]
    }


def _run_all(
    servers: Servers, deployment: str, policy: str, server: PrometheusServer | None = None
) -> list[str]:
    failures = []
    for panel, target in dashboard_targets(load_dashboard()):
        answer = grafana_query(servers, target, deployment=deployment, policy=policy, server=server)
        if answer.get("status") != "success":
            failures.append(f"{panel['title']} / {target['refId']}: {answer.get('error')}\n  {target['expr']}")
    return failures


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


def test_promtool_accepts_a_scrape_of_the_daemon(promtool: str, daemon_target: ServedProcess) -> None:
    """`promtool check metrics` finds nothing to criticise in a real scrape of the daemon's /metrics."""
    scrape = daemon_target.scrape()
    result = _run_promtool(promtool, "check", "metrics", stdin=scrape)
    assert (0, b"") == (result.returncode, result.stdout + result.stderr)
    assert b'scaler_actions_total{action="stop",policy="always-stopped",result="success"}' in scrape


def test_promtool_accepts_a_scrape_of_each_stand_in(
    promtool: str, troubled_target: ServedProcess, replica_targets: ReplicaTargets
) -> None:
    """`promtool check metrics` also accepts the scrape of the troubled stand-in and of each replica."""
    scrapes = {"troubled": troubled_target.scrape()} | {name: replica_targets.scrape(name) for name in REPLICAS}
    findings = {}
    for name, scrape in scrapes.items():
        result = _run_promtool(promtool, "check", "metrics", stdin=scrape)
        findings[name] = (result.returncode, result.stdout + result.stderr)
    assert {name: (0, b"") for name in scrapes} == findings


def test_promtool_check_metrics_can_fail(promtool: str) -> None:
    """The metrics check can fail: a counter without `_total` is reported."""
    result = _run_promtool(promtool, "check", "metrics",
                           stdin=b"# HELP scaler_things Things.\n# TYPE scaler_things counter\nscaler_things 1\n")
    assert b"counter metrics should have \"_total\" suffix" in result.stdout + result.stderr


# --- the stand-in cannot drift from the daemon ------------------------------------------------


def test_stand_in_serves_only_series_the_daemon_exports(servers: Servers) -> None:
    """Every series name of each stand-in (troubled scaler, replicas), with its label names, is one the
    real daemon's scrape has."""
    daemon = series_signatures(servers.daemon.scrape())
    unknown = {}
    for stand_in, scrape in servers.stand_in_scrapes().items():
        for name, labels in series_signatures(scrape).items():
            if labels - daemon.get(name, set()):
                unknown[f"{stand_in}: {name}"] = sorted(sorted(s) for s in labels - daemon.get(name, set()))
    assert {} == unknown


def test_stand_in_uses_only_label_values_the_daemon_uses(servers: Servers) -> None:
    """Closed labels (action, result, reason, status, health, change, ...) of every stand-in carry only
    values the daemon's scrape has. In compact detail the daemon shows only each deployment's current status
    and health, so for those two the values it may show are the lists it declares (which full detail shows
    one-hot), "" (health not observed yet) for the per-policy series."""
    daemon = closed_label_values(servers.daemon.scrape())
    for name in ("scaler_deployment_status", "scaler_policy_deployments"):
        daemon |= {(name, "status", status) for status in DEPLOYMENT_STATUSES}
    for name in ("scaler_deployment_health", "scaler_policy_deployments"):
        daemon |= {(name, "health", health) for health in HEALTH_VALUES}
    daemon.add(("scaler_policy_deployments", "health", ""))
    unknown = {
        stand_in: sorted(closed_label_values(scrape) - daemon)
        for stand_in, scrape in servers.stand_in_scrapes().items()
    }
    assert {stand_in: [] for stand_in in unknown} == unknown


def test_drift_check_can_fail(servers: Servers) -> None:
    """A series the daemon never exports, or a label it never sets, is seen by the comparison."""
    daemon = series_signatures(servers.daemon.scrape())
    invented = series_signatures(b'scaler_api_auth_ok{region="eu"} 1\nscaler_invented_total 1\n')
    assert {"scaler_api_auth_ok": {frozenset({"region"})}, "scaler_invented_total": {frozenset()}} == {
        name: labels - daemon.get(name, set()) for name, labels in invented.items()
    }


# --- the dashboard ----------------------------------------------------------------


def test_every_dashboard_query_runs_with_all_values(servers: Servers) -> None:
    """Every panel query, with $deployment and $policy at "All", is accepted and evaluated."""
    assert [] == _run_all(servers, deployment=".*", policy=".*")


def test_every_dashboard_query_runs_with_one_deployment_and_policy(servers: Servers) -> None:
    """Every panel query also runs with a real deployment and policy picked in the variables."""
    deployment = next(d for d in scraped_deployments(servers.daemon) if d.policy)
    assert re.fullmatch(r"[a-z0-9-]+", deployment.name + deployment.policy), "pick values needing no regex escape"
    assert [] == _run_all(servers, deployment=deployment.name, policy=deployment.policy)


def test_dashboard_variables_find_the_deployments_and_policies(servers: Servers) -> None:
    """The policy and deployment variables' queries list the daemon's policies and deployments."""
    found = {}
    for name, selector, label in variable_queries(load_dashboard()):
        series = servers.dashboard.vector(substitute_variables(selector, deployment=".*", policy=".*"))
        found[name] = {s["metric"][label] for s in series if label in s["metric"]}
    deployments = scraped_deployments(servers.daemon)
    expected = {"policy": {d.policy for d in deployments if d.policy}, "deployment": {d.name for d in deployments},
                "cluster": set(), "job": {JOB}, "namespace": set()}
    assert expected == found


@pytest.mark.parametrize("title", CORE_PANELS)
def test_core_panel_shows_data(servers: Servers, title: str) -> None:
    """Each query of a core panel returns at least one series from the daemon's metrics (in its default
    compact detail: a query of series only full detail shows is proven in full detail below)."""
    empty = [ref_id for ref_id, target in panel_targets(title).items()
             if not referenced_metric_names(target["expr"]) & FULL_ONLY_NAMES and not grafana_series(servers, target)]
    assert [] == empty


def test_actions_panel_shows_the_daemon_stopping_a_new_deployment(servers: Servers) -> None:
    """The actions graph has a stop/success above 0 at the moment the daemon stopped the late deployment."""
    target = panel_targets("Actions per minute by action and result")["A"]
    expr = substitute_variables(target["expr"], deployment=".*", policy=".*")
    answer = servers.dashboard.query_range(expr, **scraped_range(servers))
    peaks = {
        (s["metric"]["action"], s["metric"]["result"]): max(float(v) for _, v in s["values"])
        for s in answer["data"]["result"]
    }
    assert peaks[("stop", "success")] > 0, peaks


def test_health_timeline_shows_each_deployments_health(servers: Servers) -> None:
    """The health timeline encodes each deployment's current health (where it is known) as its mapped number."""
    panel = next(p for p, _ in dashboard_targets(load_dashboard()) if p["title"] == "Health per deployment")
    codes = {}
    for mapping in panel["fieldConfig"]["defaults"]["mappings"]:
        for value, option in mapping["options"].items():
            codes[int(value)] = option["text"]
    shown = {labels["deployment"]: codes[int(value)] for labels, value in grafana_series(servers, panel["targets"][0])}
    expected = {d.name: d.health for d in scraped_deployments(servers.daemon) if d.health is not None}
    assert expected == shown


def test_status_table_shows_each_deployments_status_and_policy(servers: Servers) -> None:
    """The status table's queries give every deployment its status and its policy, as the daemon reports them."""
    targets = panel_targets("Status per deployment")
    status = {labels["deployment"]: labels["status"] for labels, _ in grafana_series(servers, targets["A"])}
    policy = {labels["deployment"]: labels.get("policy", "") for labels, _ in grafana_series(servers, targets["C"])}
    deployments = scraped_deployments(servers.daemon)
    assert ({d.name: d.status for d in deployments}, {d.name: d.policy for d in deployments}) == (status, policy)


def test_running_gpus_are_those_the_daemon_counts(servers: Servers) -> None:
    """The Running GPUs stat shows the daemon's own count (chat-llm's L4 and embed-svc's A10G)."""
    assert (2.0, 2.0) == (scraped_value(servers.daemon, "scaler_running_gpus"), only_value(servers, "Running GPUs"))


@pytest.mark.parametrize(
    "title", ["GPU-hours saved today", "GPU-hours saved, 7 days", "Dollars saved today", "Dollars saved, 7 days"]
)
def test_savings_panel_shows_what_the_stopped_deployments_saved(servers: Servers, title: str) -> None:
    """The daemon keeps counting what the stopped batch deployments save: each savings stat is above 0."""
    assert only_value(servers, title) > 0


def test_saving_rate_is_that_of_the_stopped_accelerators(servers: Servers) -> None:
    """The saving rate by accelerator names the stopped A100s, saving at more than 0 GPUs."""
    rates = {labels["accelerator"]: value
             for labels, value in grafana_series(servers, panel_targets("Saving rate by accelerator")["A"])}
    assert ({"nvidia-a100"}, True) == ({a for a, rate in rates.items() if rate > 0}, rates["nvidia-a100"] > 0)


def test_last_reconcile_is_seconds_old(servers: Servers) -> None:
    """The age of the last reconcile is that of a daemon reconciling every second: well under a minute."""
    age = only_value(servers, "Last reconcile")
    assert 0 <= age < 60, age


def test_next_transition_table_shows_the_coming_window(servers: Servers) -> None:
    """chat-llm's next change (its nightly window opening or closing) is in the future, within a day;
    nightly-batch's is the end of the override the daemon's store holds for it, in about 29 days."""
    targets = panel_targets("Next transition per deployment")
    at = {labels["deployment"]: value / 1000 for labels, value in grafana_series(servers, targets["A"])}
    now = time.time()
    override_ends = now + OVERRIDE_LENGTH.total_seconds()
    assert (["chat-llm", "nightly-batch"], True, True) == (
        sorted(at), now < at["chat-llm"] <= now + 86400, override_ends - 3600 < at["nightly-batch"] <= override_ends
    )


def test_policy_variable_filters_every_per_deployment_panel(servers: Servers) -> None:
    """With one policy picked and Deployment at All, no query shows another policy's deployment, nor its savings."""
    governed = {d.name for d in scraped_deployments(servers.daemon) if d.policy == "steady-bounds"}
    strays = set()
    for panel, target in dashboard_targets(load_dashboard()):
        for labels, _ in grafana_series(servers, target, policy="steady-bounds"):
            if "deployment" in labels and labels["deployment"] not in governed:
                strays.add(f"{panel['title']}/{target['refId']}: {labels['deployment']}")
    saved = grafana_series(servers, panel_targets("Dollars saved today")["A"], policy="steady-bounds")
    assert ({"chat-llm"}, set(), []) == (governed, strays, [value for _, value in saved if value > 0])


# --- the dashboard over several replicas ------------------------------------------------


def test_every_dashboard_query_runs_over_the_replicas(servers: Servers) -> None:
    """Every panel query also runs against the Prometheus scraping two replicas through a failover."""
    assert [] == _run_all(servers, deployment=".*", policy=".*", server=servers.replicas)


def test_organization_panels_show_each_fact_once_across_replicas(servers: Servers) -> None:
    """Two replicas report the same organization: the overview shows what one of them reports, not twice it."""
    series_by_panel: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
        ("Deployments", "A"): ("scaler_policy_deployments", {}),
        ("Running GPUs", "A"): ("scaler_running_gpus", {}),
        ("Policies / conflicts", "A"): ("scaler_policies_loaded", {}),
        ("Policies / conflicts", "B"): ("scaler_policy_conflicts", {}),
        ("Suspended", "A"): ("scaler_policy_deployments", {"desired": "suspended"}),
        ("API auth", "A"): ("scaler_api_auth_ok", {}),
        ("Wallet", "A"): ("scaler_wallet_blocked", {}),
    }
    reported = {}
    for name in (OLD_LEADER, NEW_LEADER):
        scrape = servers.replica_targets.scrape(name)
        reported[name] = {panel: scraped_total(scrape, series, **labels)
                          for panel, (series, labels) in series_by_panel.items()}
    shown = {(title, ref_id): only_value(servers, title, ref_id, server=servers.replicas)
             for title, ref_id in series_by_panel}
    assert (reported[OLD_LEADER], reported[OLD_LEADER]) == (reported[NEW_LEADER], shown)


def test_running_gpus_by_accelerator_are_one_replicas_count(servers: Servers) -> None:
    """The GPUs by accelerator are those each replica reports (1 A100, 3 L4, no H100), not their sum."""
    target = panel_targets("Running GPUs by accelerator")["A"]
    shown = {labels["accelerator"]: value for labels, value in grafana_series(servers, target, server=servers.replicas)}
    assert {"nvidia-a100": 1.0, "nvidia-l4": 3.0, "nvidia-h100": 0.0} == shown


@pytest.mark.parametrize(
    ("title", "unit"),
    [
        ("GPU-hours saved today", SAVED_PER_COMMAND[0] / 3600),
        ("GPU-hours saved, 7 days", SAVED_PER_COMMAND[0] / 3600),
        ("Dollars saved today", SAVED_PER_COMMAND[1]),
        ("Dollars saved, 7 days", SAVED_PER_COMMAND[1]),
    ],
)
def test_savings_panels_add_up_what_each_leader_counted(servers: Servers, title: str, unit: float) -> None:
    """The old leader counted one saving before the failover and the new leader one after: the panel
    shows two (within Prometheus' extrapolation of increase()), where the larger of the two would show one."""
    assert 2 == round(only_value(servers, title, server=servers.replicas) / unit)


def test_saved_by_deployment_adds_up_both_leaders(servers: Servers) -> None:
    """The saving per deployment adds up what both leaders counted for batch-h100."""
    target = panel_targets("Saved by deployment, 7 days")["A"]
    shown = {labels["deployment"]: round(value / SAVED_PER_COMMAND[1])
             for labels, value in grafana_series(servers, target, server=servers.replicas) if value > 0}
    assert {"batch-h100": 2} == shown


def test_policy_reloads_panel_counts_a_reload_of_every_replica_once(servers: Servers) -> None:
    """Both replicas reloaded the same files at once: the panel peaks where one replica's own count
    peaks, not at their sum."""
    target = panel_targets("Policy reloads and conflicts")["A"]
    span = scraped_range(servers)  # one span for both queries: the same instants evaluated
    shown = peaks(servers, target, ("result",), servers.replicas, span)
    per_replica = peaks(servers, {"expr": "increase(scaler_policy_reloads_total[$__rate_interval])"},
                        ("instance", "result"), servers.replicas, span)
    one_replica = max(value for (_, result), value in per_replica.items() if result == "success")
    assert (True, one_replica) == (one_replica >= 1, shown[("success",)])


def test_role_panel_shows_which_replica_leads(servers: Servers) -> None:
    """After the failover the role panel shows the new leader as leader (1) and the old one as standby (0)."""
    target = panel_targets("Role per replica")["A"]
    shown = {labels["instance"]: value for labels, value in grafana_series(servers, target, server=servers.replicas)}
    replicas = servers.replica_targets
    assert {replicas.address(OLD_LEADER): 0.0, replicas.address(NEW_LEADER): 1.0} == shown


def test_role_panel_shows_the_single_daemon_leading(servers: Servers) -> None:
    """The daemon, alone on SQLite, is shown as the leader."""
    target = panel_targets("Role per replica")["A"]
    assert [({"instance": servers.daemon.address}, 1.0)] == grafana_series(servers, target)


def test_leadership_changes_panel_shows_the_failover(servers: Servers) -> None:
    """The changes panel shows the old leader's loss and the new leader's gain, and nothing else."""
    shown = peaks(servers, panel_targets("Leadership changes")["A"], ("instance", "change"), servers.replicas)
    replicas = servers.replica_targets
    assert {(replicas.address(OLD_LEADER), "lost"), (replicas.address(NEW_LEADER), "acquired")} == {
        key for key, value in shown.items() if value > 0
    }


# --- the dashboard over several installations -------------------------------------------


def _series_of_every_query(servers: Servers, **installation: str) -> dict[str, int]:
    """Return, per panel query and annotation, how many series it returns on the alerts' server (four
    installations) with the installation variables at ``installation``; raise if Prometheus refuses one."""
    dashboard = load_dashboard()
    queries = {f"{panel['title']}/{target['refId']}": target for panel, target in dashboard_targets(dashboard)}
    queries |= {f"annotation {a['name']}": {"expr": a["expr"]} for a in dashboard_annotations(dashboard)}
    return {where: len(grafana_series(servers, target, server=servers.alerts, **installation))
            for where, target in queries.items()}


@pytest.mark.parametrize(
    "installation",
    [{"job": "no-such-job", "namespace": SINGLE_INSTANCE}, {"namespace": "no-such-namespace"},
     {"namespace": SINGLE_INSTANCE, "cluster": "no-such-cluster"}],
    ids=["job", "namespace", "cluster"],
)
def test_every_dashboard_query_keeps_to_the_chosen_installation(servers: Servers, installation: dict[str, str]) -> None:
    """With a job, namespace or cluster that no installation has, every panel query and annotation returns
    nothing, though the Prometheus holds four installations: no query reads series of another."""
    assert {} == {where: count for where, count in _series_of_every_query(servers, **installation).items() if count}


def test_dashboard_shows_each_installation_apart(servers: Servers) -> None:
    """On one Prometheus holding four installations, "Scaler up" counts the targets up in the chosen one
    (the single daemon 1, the troubled install 1 of its 2, the leaderless pair 2), and "Deployments" shows
    the single daemon's own count."""
    up = {namespace: only_value(servers, "Scaler up", server=servers.alerts, namespace=namespace)
          for namespace in (SINGLE_INSTANCE, TROUBLED_INSTALL, NO_LEADER)}
    deployments = only_value(servers, "Deployments", server=servers.alerts, namespace=SINGLE_INSTANCE)
    assert ({SINGLE_INSTANCE: 1.0, TROUBLED_INSTALL: 1.0, NO_LEADER: 2.0}, float(len(scraped_deployments(servers.daemon)))) == (
        up, deployments
    )


def test_installation_variables_list_the_installations(servers: Servers) -> None:
    """On the Prometheus holding several installations, the job variable finds the one job, the namespace
    variable every namespace, and the cluster variable nothing (no target has a cluster label)."""
    found = {}
    for name, selector, label in variable_queries(load_dashboard()):
        if name in INSTALLATION_VARIABLES:
            series = servers.alerts.vector(substitute_variables(selector, deployment=".*", policy=".*"))
            found[name] = {s["metric"][label] for s in series if label in s["metric"]}
    namespaces = {SINGLE_INSTANCE, TROUBLED_INSTALL, SPLIT_BRAIN, NO_LEADER, *DETAIL_TARGETS}
    assert {"cluster": set(), "job": {JOB}, "namespace": namespaces} == found


# --- the dashboard in each per-deployment detail -------------------------------------------


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_every_dashboard_query_runs_in_each_detail(servers: Servers, detail: str) -> None:
    """Every panel query and annotation is accepted and evaluated on the install of a healthy leader whose
    per-deployment series are in full, compact or off detail."""
    counts = _series_of_every_query(servers, namespace=HEALTHY_INSTALLS[detail])
    assert len(counts) > 30


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_organization_panels_show_the_organization_in_each_detail(servers: Servers, detail: str) -> None:
    """Whatever the detail, the overview shows the healthy organization (4 deployments, 4 GPUs running: 1 A100
    and 3 L4, 1 suspended, 2 policies) and the savings panels the one saving the leader counted."""
    namespace = HEALTHY_INSTALLS[detail]
    overview = {title: only_value(servers, title, server=servers.alerts, namespace=namespace)
                for title in ("Deployments", "Running GPUs", "Suspended", "Policies / conflicts")}
    by_accelerator = {
        labels["accelerator"]: value
        for labels, value in grafana_series(servers, panel_targets("Running GPUs by accelerator")["A"],
                                            server=servers.alerts, namespace=namespace)
    }
    saved = {title: round(only_value(servers, title, server=servers.alerts, namespace=namespace) / unit)
             for title, unit in (("GPU-hours saved, 7 days", SAVED_PER_COMMAND[0] / 3600),
                                 ("Dollars saved, 7 days", SAVED_PER_COMMAND[1]))}
    assert (
        {"Deployments": 4.0, "Running GPUs": 4.0, "Suspended": 1.0, "Policies / conflicts": 2.0},
        {"nvidia-a100": 1.0, "nvidia-l4": 3.0, "nvidia-h100": 0.0},
        {"GPU-hours saved, 7 days": 1, "Dollars saved, 7 days": 1},
    ) == (overview, by_accelerator, saved)


@pytest.mark.parametrize(("detail", "listed"), [("full", True), ("compact", True), ("off", False)])
def test_deployment_panels_list_deployments_where_the_detail_has_them(
    servers: Servers, detail: str, listed: bool
) -> None:
    """The status table, the health timeline and the savings list name every deployment, by name, in full and
    compact detail (compact joins the name from scaler_deployment_info); with off they are empty."""
    namespace = HEALTHY_INSTALLS[detail]
    names = {d.name for d in HEALTHY}

    def shown(title: str) -> set[str]:
        return {labels.get("deployment", "") for labels, _ in grafana_series(
            servers, panel_targets(title)["A"], server=servers.alerts, namespace=namespace)}

    tables = {title: shown(title) for title in ("Status per deployment", "Health per deployment")}
    saved = shown("Saved by deployment, 7 days")
    expected_saver = {d.name for d in HEALTHY if d.status == "SCALED_DOWN"}
    assert ({title: names if listed else set() for title in tables}, expected_saver if listed else set()) == (
        tables, {name for name in saved if name in expected_saver}
    )


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_full_detail_panels_show_data_only_in_full_detail(servers: Servers, detail: str) -> None:
    """The suspension column and the replicas graph read series only full detail shows: they name the
    deployments in full detail (suspension of all four; bounds of the three with bounds) and are empty otherwise."""
    namespace = HEALTHY_INSTALLS[detail]

    def shown(title: str, ref_id: str) -> dict[str, float]:
        return {labels.get("deployment", ""): value for labels, value in grafana_series(
            servers, panel_targets(title)[ref_id], server=servers.alerts, namespace=namespace)}

    expected = ({d.name: float(d.suspended) for d in HEALTHY},
                {d.name: float(d.desired_min) for d in HEALTHY if d.desired_min is not None})
    assert (expected if detail == "full" else ({}, {})) == (
        shown("Status per deployment", "D"), shown("Desired vs ready replicas", "A")
    )


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_active_exceptions_lists_each_held_deployment_where_the_detail_has_it(servers: Servers, detail: str) -> None:
    """The healthy organization has on-hold-l4 suspended and chat-a100 overridden: the table lists both in full
    detail, the override alone in compact (the suspension series is full detail's), nothing with off."""
    namespace = HEALTHY_INSTALLS[detail]
    shown = sorted((labels.get("deployment", ""), labels.get("exception", "")) for labels, _ in grafana_series(
        servers, panel_targets("Active exceptions")["A"], server=servers.alerts, namespace=namespace))
    suspended = [(d.name, "suspend") for d in HEALTHY if d.suspended]
    expected = {"full": sorted([*suspended, (OVERRIDDEN.name, "override")]), "compact": [(OVERRIDDEN.name, "override")],
                "off": []}[detail]
    assert expected == shown


def test_active_exceptions_lists_each_deployment_once_across_replicas(servers: Servers) -> None:
    """Two replicas report the same override: the table names the deployment once."""
    shown = [labels.get("deployment") for labels, _ in grafana_series(
        servers, panel_targets("Active exceptions")["A"], server=servers.replicas)]
    assert [OVERRIDDEN.name] == [name for name in shown if name == OVERRIDDEN.name]


def test_actions_annotation_marks_the_daemon_stopping_a_new_deployment(servers: Servers) -> None:
    """The actions annotation's query has a stop/success series, under the daemon's policy, while the daemon
    stopped the late deployment."""
    annotation = next(dashboard_annotations(load_dashboard()))
    shown = peaks(servers, {"expr": annotation["expr"]}, ("action", "result", "policy"), servers.dashboard)
    assert shown.get(("stop", "success", "always-stopped"), 0) > 0, shown


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

    health = wait_for("every rule to be evaluated", evaluated, timeout=20)
    assert {rule["alert"]: "ok" for rule in _alert_rules()} == health


def _active_alerts(server: PrometheusServer) -> list[dict[str, Any]]:
    return server.api("alerts")["data"]["alerts"]


@pytest.mark.parametrize("detail", DEPLOYMENT_DETAILS)
def test_every_alert_fires_for_the_troubled_scaler_in_each_detail(servers: Servers, detail: str) -> None:
    """With the troubled scaler's per-deployment series in full, compact or off detail, each alert (but the
    absence and leadership ones) is pending or firing for its install: on its instance, or (the deployment
    alerts) on the policy of the deployments in trouble, counting them."""
    namespace = TROUBLED_INSTALLS[detail]
    address = servers.troubled.address if detail == "compact" else servers.detail_targets.address(namespace)
    ours = {address, servers.dead_target} if detail == "compact" else {address}
    expected = {rule["alert"]: {address} for rule in _alert_rules()
                if rule["alert"] not in (*LEADERSHIP_ALERTS, *TROUBLED_POLICIES_BY_ALERT, "SimplismartScalerAbsent")}
    expected["SimplismartScalerDown"] = {servers.dead_target}
    if detail != "compact":
        del expected["SimplismartScalerDown"]  # only the compact install has a dead target beside it
    expected.update({alert: {f"{policy}: {count}" for policy, count in counts.items()}
                     for alert, counts in TROUBLED_POLICIES_BY_ALERT.items()})

    def named() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for alert in _active_alerts(servers.alerts):
            labels = alert["labels"]
            if labels["alertname"] in LEADERSHIP_ALERTS:
                continue
            if labels.get("namespace") != namespace and labels.get("instance") not in ours:
                continue
            if labels["alertname"] in TROUBLED_POLICIES_BY_ALERT:
                shown = f"{labels.get('policy', '')}: {float(alert['value']):g}"
            else:
                shown = labels.get("instance", "")
            seen.setdefault(labels["alertname"], set()).add(shown)
        return seen

    def all_there() -> dict[str, set[str]] | None:
        seen = named()
        return seen if set(seen) >= set(expected) else None

    wait_for(f"every alert to become active in {namespace}", all_there, timeout=20)
    assert expected == named()


def test_no_alert_names_a_healthy_install(servers: Servers) -> None:
    """While the troubled scaler's alerts are active, none names the real daemon, nor a healthy leader in any
    detail, nor one of their deployments' policies."""
    wait_for("any alert to become active", lambda: _active_alerts(servers.alerts), timeout=20)
    healthy = {SINGLE_INSTANCE, *HEALTHY_INSTALLS.values()}
    addresses = {servers.daemon.address, *(servers.detail_targets.address(name) for name in HEALTHY_INSTALLS.values())}
    named = sorted(
        f"{alert['labels'].get('namespace', '')}: {alert['labels']['alertname']}"
        for alert in _active_alerts(servers.alerts)
        if alert["labels"].get("namespace") in healthy or alert["labels"].get("instance") in addresses
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


def _alerts_by_namespace(server: PrometheusServer) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for alert in _active_alerts(server):
        found.setdefault(alert["labels"].get("namespace", ""), set()).add(alert["labels"]["alertname"])
    return found


def _leadership_alerts_active(server: PrometheusServer) -> dict[str, set[str]] | None:
    found = _alerts_by_namespace(server)
    active = set().union(*found.values()) if found else set()
    return found if set(LEADERSHIP_ALERTS) <= active else None


def test_each_leadership_alert_names_only_the_install_in_that_trouble(servers: Servers) -> None:
    """Two leaders raise SimplismartScalerMultipleLeaders, two standbys SimplismartScalerNoLeader; neither
    names the single daemon (its own leader) nor the troubled scaler (the leader beside a dead target)."""
    found = wait_for(
        "both leadership alerts to become active", lambda: _leadership_alerts_active(servers.alerts), timeout=20
    )
    named = {alert: {namespace for namespace, alerts in found.items() if alert in alerts}
             for alert in LEADERSHIP_ALERTS}
    assert {"SimplismartScalerNoLeader": {NO_LEADER}, "SimplismartScalerMultipleLeaders": {SPLIT_BRAIN}} == named


def test_replicas_in_leadership_trouble_raise_no_other_alert(servers: Servers) -> None:
    """The split-brain and leaderless installs are healthy otherwise: their leadership alert is their only one."""
    found = wait_for(
        "both leadership alerts to become active", lambda: _leadership_alerts_active(servers.alerts), timeout=20
    )
    assert {SPLIT_BRAIN: {"SimplismartScalerMultipleLeaders"}, NO_LEADER: {"SimplismartScalerNoLeader"}} == {
        namespace: found.get(namespace, set()) for namespace in (SPLIT_BRAIN, NO_LEADER)
    }


def test_no_leadership_alert_through_a_failover_and_a_missed_scrape(servers: Servers) -> None:
    """While the replicas' Prometheus saw moments without a leader (the leader's failed scrape, the takeover
    delay), neither leadership expression was ever true there, and no leadership alert is active.

    The span begins once both replicas had been scraped: before that, a first scrape of the
    standby alone looks like an install without a leader for an instant (which the rule's
    ``for`` rides out).
    """
    span = {"start": servers.failover_started_at, "end": time.time()}
    rules = {rule["alert"]: rule["expr"] for rule in _alert_rules()}

    def instants(expr: str) -> int:
        answer = servers.replicas.query_range(expr, **span, step="250ms")
        assert "success" == answer["status"], answer
        return sum(len(series["values"]) for series in answer["data"]["result"])

    without_leader = instants("sum(scaler_leader) == 0")
    flagged = {alert: instants(rules[alert]) for alert in LEADERSHIP_ALERTS}
    active = [a["labels"]["alertname"] for a in _active_alerts(servers.replicas)
              if a["labels"]["alertname"] in LEADERSHIP_ALERTS]
    assert (True, dict.fromkeys(LEADERSHIP_ALERTS, 0), []) == (without_leader > 0, flagged, active)


# --- the leadership and deployment alerts over time: promtool's rule unit tests ---------------
#
# A live Prometheus shows an alert pending within seconds, but not whether it fires after
# its `for`, nor what a failover minutes long does to it. `promtool test rules` evaluates
# the real rules over synthetic series, one sample per 15 s scrape, at chosen instants.
# Only the annotations are dropped from the copy it loads: they are templates whose
# rendering `promtool check rules` already checks, and the unit tests compare labels.

#: One scrape interval, as in a common Prometheus configuration.
UNIT_INTERVAL = "15s"
UNIT_JOB = JOB
#: Two replicas of one install, as the Prometheus Operator labels their targets.
REPLICA_A = {"job": UNIT_JOB, "namespace": "scaler", "service": "simplismart-scaler", "instance": "10.0.0.1:9464",
             "pod": "scaler-a"}
REPLICA_B = REPLICA_A | {"instance": "10.0.0.2:9464", "pod": "scaler-b"}
#: The labels an install's leadership alert carries (the replicas added up).
INSTALL = {"job": UNIT_JOB, "namespace": "scaler", "service": "simplismart-scaler", "severity": "critical"}


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def rule_unit_test(
    promtool: str,
    tmp_path: Path,
    input_series: dict[str, str],
    expected: list[tuple[str, str, list[dict[str, str]]]],
) -> tuple[int, str]:
    """Run `promtool test rules` on the rules of files/alerts.yaml (see promtool_test_rules)."""
    return promtool_test_rules(promtool, tmp_path, yaml.safe_load(ALERTS.read_text()), input_series, expected,
                               interval=UNIT_INTERVAL)


def test_rule_unit_test_can_fail(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation makes promtool's rule unit test fail: two leaders expected silent."""
    leaders = {_series("scaler_leader", REPLICA_A): "1x20", _series("scaler_leader", REPLICA_B): "1x20"}
    status, output = rule_unit_test(promtool, tmp_path, leaders, [("4m", "SimplismartScalerMultipleLeaders", [])])
    assert (1, True) == (status, "FAILED" in output), output


def test_no_leader_fires_three_minutes_after_the_last_leader(promtool: str, tmp_path: Path) -> None:
    """The leader (last 1 at 5 m) becomes a standby and none takes over: the install's alert is
    pending, not firing, at 8 m, and fires by 8 m 30 s, once, without naming a replica."""
    series = {_series("scaler_leader", REPLICA_A): "1x20 0x40", _series("scaler_leader", REPLICA_B): "0x60"}
    expected = [
        ("8m", "SimplismartScalerNoLeader", []),
        ("8m30s", "SimplismartScalerNoLeader", [INSTALL]),
    ]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_no_leader_names_only_the_install_without_one(promtool: str, tmp_path: Path) -> None:
    """Of two installs, the one whose replicas all stand by fires; the one with a leader does not."""
    other = {"namespace": "other", "instance": "10.0.1.1:9464", "pod": "other-a"}
    series = {
        _series("scaler_leader", REPLICA_A): "0x40",
        _series("scaler_leader", REPLICA_B): "0x40",
        _series("scaler_leader", REPLICA_A | other): "1x40",
        _series("scaler_leader", REPLICA_A | other | {"instance": "10.0.1.2:9464", "pod": "other-b"}): "0x40",
    }
    status, output = rule_unit_test(promtool, tmp_path, series, [("5m", "SimplismartScalerNoLeader", [INSTALL])])
    assert 0 == status, output


def test_no_leader_silent_through_a_slow_failover(promtool: str, tmp_path: Path) -> None:
    """The leader dies at 5 m (its series goes stale) and the standby leads 2 m 30 s later, far beyond
    a real failover: the alert never fires."""
    series = {
        _series("scaler_leader", REPLICA_A): "1x20 stale",
        _series("scaler_leader", REPLICA_B): "0x29 1x30",
    }
    # At 7 m 15 s the install has had no current leader for 2 minutes: only the minute during
    # which the dead leader's last report still counts keeps the alert from firing then.
    expected = [(at, "SimplismartScalerNoLeader", []) for at in ("6m", "7m", "7m15s", "7m30s", "8m", "12m")]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_no_leader_silent_while_the_leaders_scrapes_fail(promtool: str, tmp_path: Path) -> None:
    """The leader's scrapes fail two out of three times for 10 minutes (its series stale in between):
    the alert never fires."""
    series = {
        _series("scaler_leader", REPLICA_A): "1 " + "stale stale 1 " * 40,
        _series("scaler_leader", REPLICA_B): "0x120",
    }
    expected = [(at, "SimplismartScalerNoLeader", []) for at in ("3m", "5m", "7m", "10m")]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_no_leader_silent_when_every_replica_is_gone(promtool: str, tmp_path: Path) -> None:
    """Every replica stops being scraped at 5 m: no series is left to add up, and the alert stays
    silent (SimplismartScalerDown and SimplismartScalerAbsent speak then)."""
    series = {_series("scaler_leader", REPLICA_A): "1x20 stale", _series("scaler_leader", REPLICA_B): "0x20 stale"}
    status, output = rule_unit_test(promtool, tmp_path, series, [("15m", "SimplismartScalerNoLeader", [])])
    assert 0 == status, output


def test_multiple_leaders_fire_after_two_minutes(promtool: str, tmp_path: Path) -> None:
    """Two replicas of one install lead from the start: pending at 1 m 45 s, firing at 2 m 15 s, once
    for the install."""
    series = {_series("scaler_leader", REPLICA_A): "1x20", _series("scaler_leader", REPLICA_B): "1x20"}
    expected = [
        ("1m45s", "SimplismartScalerMultipleLeaders", []),
        ("2m15s", "SimplismartScalerMultipleLeaders", [INSTALL]),
    ]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_multiple_leaders_silent_through_a_failover(promtool: str, tmp_path: Path) -> None:
    """The new leader is scraped as 1 while the old leader's last 1 is still its newest sample (one
    scrape of overlap before it goes stale): the alert never fires."""
    series = {
        _series("scaler_leader", REPLICA_A): "1x20 stale",
        _series("scaler_leader", REPLICA_B): "0x19 1x40",
    }
    expected = [(at, "SimplismartScalerMultipleLeaders", []) for at in ("5m", "6m", "7m", "10m")]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_one_leader_per_install_is_not_multiple_leaders(promtool: str, tmp_path: Path) -> None:
    """One Prometheus scraping two installs, each with its own leader, raises no alert."""
    other = {"namespace": "other", "instance": "10.0.1.1:9464", "pod": "other-a"}
    series = {_series("scaler_leader", REPLICA_A): "1x20", _series("scaler_leader", REPLICA_A | other): "1x20"}
    status, output = rule_unit_test(promtool, tmp_path, series, [("4m", "SimplismartScalerMultipleLeaders", [])])
    assert 0 == status, output


@pytest.mark.parametrize(
    ("alert", "health", "after"),
    [("SimplismartDeploymentUnhealthy", "Unhealthy", "16m"), ("SimplismartDeploymentDegraded", "Degraded", "31m")],
)
def test_deployment_alert_fires_once_over_replicas(
    promtool: str, tmp_path: Path, alert: str, health: str, after: str
) -> None:
    """Both replicas report two deployments of one policy in that health (one wanted running, one stopped but
    last seen so): one alert names the policy, not one per replica or per desired state (the live servers'
    test checks the count it carries)."""
    policy = {"policy": "office-hours", "health": health}
    series = {
        _series("scaler_policy_deployments", replica | policy | {"status": "DEPLOYED", "desired": desired}): "1x140"
        for replica in (REPLICA_A, REPLICA_B)
        for desired in ("running", "stopped")
    }
    firing = {"job": UNIT_JOB, "namespace": "scaler", "service": "simplismart-scaler"} | policy
    severity = {"SimplismartDeploymentUnhealthy": "critical", "SimplismartDeploymentDegraded": "warning"}[alert]
    status, output = rule_unit_test(
        promtool, tmp_path, series, [(after, alert, [firing | {"severity": severity}])]
    )
    assert 0 == status, output


def test_deployment_alert_waits_for_its_whole_duration(promtool: str, tmp_path: Path) -> None:
    """A policy's deployment Unhealthy for 10 minutes, then Healthy: the alert never fires."""
    unhealthy = REPLICA_A | {"policy": "office-hours", "status": "DEPLOYED", "desired": "running"}
    series = {
        _series("scaler_policy_deployments", unhealthy | {"health": "Unhealthy"}): "1x40 stale",
        _series("scaler_policy_deployments", unhealthy | {"health": "Healthy"}): "_x40 1x100",
    }
    expected = [(at, "SimplismartDeploymentUnhealthy", []) for at in ("9m", "16m", "25m")]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_start_not_healthy_fires_once_over_replicas(promtool: str, tmp_path: Path) -> None:
    """Both replicas report, under one policy, a deployment wanted running that stays SCALED_DOWN and one
    DEPLOYED still Progressing: one alert names the policy. Deployments suspended, free to scale to zero,
    Healthy, or DEPLOYED with no health observed yet, are not counted (alone they raise nothing, see below)."""
    policy = {"policy": "office-hours"}
    counted = [{"status": "SCALED_DOWN", "health": "SCALED_DOWN", "desired": "running"},
               {"status": "DEPLOYED", "health": "Progressing", "desired": "running"}]
    left_out = [{"status": "DEPLOYING", "health": "SCALED_DOWN", "desired": "suspended"},
                {"status": "SCALED_DOWN", "health": "SCALED_DOWN", "desired": "scale_to_zero"},
                {"status": "DEPLOYED", "health": "Healthy", "desired": "running"},
                {"status": "DEPLOYED", "desired": "running"}]
    series = {
        _series("scaler_policy_deployments", replica | policy | labels): "1x100"
        for replica in (REPLICA_A, REPLICA_B)
        for labels in (*counted, *left_out)
    }
    firing = {"job": UNIT_JOB, "namespace": "scaler", "service": "simplismart-scaler", "severity": "warning"}
    status, output = rule_unit_test(
        promtool, tmp_path, series, [("21m", "SimplismartDeploymentStartNotHealthy", [firing | policy])]
    )
    assert 0 == status, output


def test_org_id_refused_fires_after_five_minutes_and_ends_with_the_pause(promtool: str, tmp_path: Path) -> None:
    """SCALER_ORG_ID refused from 0 to 10 m, then accepted: pending at 4 m 45 s, firing at 5 m 15 s on the
    instance, silent again once the gauge is back to 0; a replica never refused stays silent."""
    series = {
        _series("scaler_org_id_refused", REPLICA_A): "1x40 0x20",
        _series("scaler_org_id_refused", REPLICA_B): "0x60",
    }
    firing = REPLICA_A | {"severity": "critical"}
    expected = [
        ("4m45s", "SimplismartScalerOrgIdRefused", []),
        ("5m15s", "SimplismartScalerOrgIdRefused", [firing]),
        ("12m", "SimplismartScalerOrgIdRefused", []),
    ]
    status, output = rule_unit_test(promtool, tmp_path, series, expected)
    assert 0 == status, output


def test_start_not_healthy_leaves_out_what_is_not_a_failed_start(promtool: str, tmp_path: Path) -> None:
    """Deployments suspended, free to scale to zero, Healthy, or DEPLOYED with no health observed yet, on both
    replicas for 25 minutes: no alert."""
    left_out = [{"status": "DEPLOYING", "health": "SCALED_DOWN", "desired": "suspended"},
                {"status": "SCALED_DOWN", "health": "SCALED_DOWN", "desired": "scale_to_zero"},
                {"status": "DEPLOYED", "health": "Healthy", "desired": "running"},
                {"status": "DEPLOYED", "desired": "running"},
                {"status": "SCALED_DOWN", "health": "SCALED_DOWN", "desired": "stopped"}]
    series = {
        _series("scaler_policy_deployments", replica | {"policy": "office-hours"} | labels): "1x100"
        for replica in (REPLICA_A, REPLICA_B)
        for labels in left_out
    }
    status, output = rule_unit_test(promtool, tmp_path, series, [("25m", "SimplismartDeploymentStartNotHealthy", [])])
    assert 0 == status, output
