"""The alert rules as the chart renders them for a renamed release, evaluated by promtool and a real Prometheus.

The chart is rendered by the real Helm with ``nameOverride: gpu-scaler`` in namespace
``platform``: its ServiceMonitor labels the targets ``job="gpu-scaler"``, and the
PrometheusRule's rules must select exactly that job and namespace. ``promtool test
rules`` evaluates the rendered rules over synthetic series for what takes minutes (an
absence, a scrape failing, another install's targets, the leadership of replicas);
a Prometheus server scraping the real daemon as that release's target evaluates them
live. The plain rule file's job="simplismart-scaler" is evaluated beside them, to show
what the adaptation fixes: with it, the absence alert fires for a release that is up.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ALERTS
from tests.deploy.helm_cli import NAMESPACE, Helm
from tests.deploy.prometheus_harness import (
    PrometheusServer,
    ServedProcess,
    TargetGroup,
    promtool_test_rules,
    wait_for,
)

pytestmark = pytest.mark.integration

JOB = "gpu-scaler"
#: The release as the tests render it: a token, the renamed chart, its rules.
RENAMED = {"apiToken": {"value": "not-a-real-token"}, "nameOverride": JOB, "prometheusRule": {"enabled": True}}
INTERVAL = "15s"
TARGET = {"job": JOB, "namespace": NAMESPACE, "instance": "10.0.0.1:9464"}
REPLICA_A = TARGET | {"service": f"scaler-{JOB}", "pod": "scaler-a"}
REPLICA_B = REPLICA_A | {"instance": "10.0.0.2:9464", "pod": "scaler-b"}


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


@pytest.fixture(scope="module")
def helm(helm_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The chart's ``helm``, with its own empty home."""
    return Helm(helm_binary, tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def renamed_rules(helm: Helm) -> dict[str, Any]:
    """The rule file the chart renders for the renamed release."""
    return helm.prometheus_rules(RENAMED)


def _alerts(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}


def test_promtool_accepts_the_rendered_rules(promtool: str, renamed_rules: dict[str, Any], tmp_path: Path) -> None:
    """`promtool check rules` accepts the rendered rules, every alert of the file there, annotations included."""
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump(renamed_rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, timeout=60, check=False)
    output = (result.stdout + result.stderr).decode()
    assert (0, True) == (result.returncode, f"SUCCESS: {len(_alerts(yaml.safe_load(ALERTS.read_text())))} rules found"
                         in output), output


def test_absence_alert_silent_while_the_renamed_release_is_scraped(
    promtool: str, renamed_rules: dict[str, Any], tmp_path: Path
) -> None:
    """The renamed release's target is up for 20 minutes: neither the absence nor the down alert fires. The
    plain file's rules, selecting job="simplismart-scaler", raise the absence alert falsely there."""
    series = {_series("up", TARGET): "1x80"}
    silent = [("15m", "SimplismartScalerAbsent", []), ("15m", "SimplismartScalerDown", [])]
    adapted = promtool_test_rules(promtool, tmp_path, renamed_rules, series, silent, interval=INTERVAL)
    plain = promtool_test_rules(promtool, tmp_path, yaml.safe_load(ALERTS.read_text()), series,
                                [("15m", "SimplismartScalerAbsent", [{"job": "simplismart-scaler", "severity": "critical"}])],
                                interval=INTERVAL)
    assert ((0, 0)) == (adapted[0], plain[0]), adapted[1] + plain[1]


def test_down_alert_names_the_renamed_releases_target(
    promtool: str, renamed_rules: dict[str, Any], tmp_path: Path
) -> None:
    """The renamed release's target cannot be scraped for 10 minutes: the down alert fires for it."""
    series = {_series("up", TARGET): "0x40"}
    expected = [("6m", "SimplismartScalerDown", [TARGET | {"severity": "critical"}])]
    status, output = promtool_test_rules(promtool, tmp_path, renamed_rules, series, expected, interval=INTERVAL)
    assert 0 == status, output


def test_absence_alert_fires_for_this_release_beside_another_installs_targets(
    promtool: str, renamed_rules: dict[str, Any], tmp_path: Path
) -> None:
    """Another install of the same name, in another namespace, is up; this release has no target: the
    absence alert fires for this release's job and namespace."""
    series = {_series("up", TARGET | {"namespace": "other"}): "1x60"}
    expected = [("12m", "SimplismartScalerAbsent", [{"job": JOB, "namespace": NAMESPACE, "severity": "critical"}])]
    status, output = promtool_test_rules(promtool, tmp_path, renamed_rules, series, expected, interval=INTERVAL)
    assert 0 == status, output


def test_no_leader_alert_names_the_renamed_release(
    promtool: str, renamed_rules: dict[str, Any], tmp_path: Path
) -> None:
    """Both replicas of the renamed release stand by for 10 minutes: its no-leader alert fires, once."""
    series = {_series("scaler_leader", REPLICA_A): "0x40", _series("scaler_leader", REPLICA_B): "0x40"}
    firing = {"job": JOB, "namespace": NAMESPACE, "service": f"scaler-{JOB}", "severity": "critical"}
    status, output = promtool_test_rules(promtool, tmp_path, renamed_rules, series,
                                         [("5m", "SimplismartScalerNoLeader", [firing])], interval=INTERVAL)
    assert 0 == status, output


def test_severity_and_labels_from_values_reach_the_firing_alert(helm: Helm, promtool: str, tmp_path: Path) -> None:
    """A severity set per alert and the additional labels are what the firing alert carries; a disabled
    alert never fires."""
    rules = helm.prometheus_rules({**RENAMED, "prometheusRule": {
        "enabled": True, "severities": {"SimplismartScalerDown": "warning"},
        "additionalRuleLabels": {"team": "platform"}, "disabled": {"SimplismartScalerApiAuthFailing": True},
    }})
    series = {_series("up", TARGET): "0x40", _series("scaler_api_auth_ok", TARGET): "0x40"}
    expected = [
        ("6m", "SimplismartScalerDown", [TARGET | {"severity": "warning", "team": "platform"}]),
        ("6m", "SimplismartScalerApiAuthFailing", []),
    ]
    status, output = promtool_test_rules(promtool, tmp_path, rules, series, expected, interval=INTERVAL)
    assert (0, False) == (status, "SimplismartScalerApiAuthFailing" in _alerts(rules)), output


# --- a real Prometheus scraping the real daemon as the renamed release ---------------------------


@pytest.fixture(scope="module")
def release_prometheus(
    prometheus_binary: str, daemon_target: ServedProcess, renamed_rules: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusServer]:
    """A Prometheus scraping the daemon as the Prometheus Operator scrapes the renamed release (job gpu-scaler,
    namespace platform), with the rendered rules loaded, every rule evaluated at least once."""
    workdir = tmp_path_factory.mktemp("prometheus-renamed")
    rules = workdir / "rendered-rules.yaml"
    rules.write_text(yaml.safe_dump(renamed_rules))
    server = PrometheusServer(binary=prometheus_binary, workdir=workdir, rule_files=[rules], job=JOB,
                              groups=[TargetGroup([daemon_target.address], {"namespace": NAMESPACE})])
    try:
        server.start()
        server.wait_for_samples(daemon_target.address, 3)

        def evaluated() -> bool:
            groups = server.api("rules")["data"]["groups"]
            found = [rule for group in groups for rule in group["rules"]]
            return bool(found) and not any(rule["lastEvaluation"].startswith("0001") for rule in found)

        # Rules are evaluated every second: once each has been, the scrapes above are behind them.
        wait_for("every rendered rule to be evaluated", evaluated, timeout=20)
        yield server
    finally:
        server.stop()


def test_prometheus_evaluates_every_rendered_rule_without_error(release_prometheus: PrometheusServer) -> None:
    """Loaded into Prometheus, every rendered rule is evaluated with health "ok"."""
    groups = release_prometheus.api("rules")["data"]["groups"]
    health = {rule["name"]: f"{rule['health']} {rule.get('lastError', '')}".strip()
              for group in groups for rule in group["rules"]}
    assert {name: "ok" for name in _alerts(yaml.safe_load(ALERTS.read_text()))} == health


def test_no_absence_or_down_alert_for_the_scraped_renamed_release(
    release_prometheus: PrometheusServer, renamed_rules: dict[str, Any]
) -> None:
    """The daemon is scraped as the renamed release: the rendered absence and down expressions find nothing
    and no such alert is pending, while the plain file's absence expression would fire."""
    rendered = _alerts(renamed_rules)
    plain = _alerts(yaml.safe_load(ALERTS.read_text()))
    active = {a["labels"]["alertname"] for a in release_prometheus.api("alerts")["data"]["alerts"]}
    assert ([], [], [{"job": "simplismart-scaler"}], set()) == (
        release_prometheus.vector(rendered["SimplismartScalerAbsent"]["expr"]),
        release_prometheus.vector(rendered["SimplismartScalerDown"]["expr"]),
        [s["metric"] for s in release_prometheus.vector(plain["SimplismartScalerAbsent"]["expr"])],
        active & {"SimplismartScalerAbsent", "SimplismartScalerDown"},
    )


def test_rendered_leadership_selector_finds_the_single_daemon_leading(
    release_prometheus: PrometheusServer, renamed_rules: dict[str, Any]
) -> None:
    """The leadership alerts' rendered selector finds the daemon, alone on SQLite and its own leader."""
    selector = re.search(r"scaler_leader\{[^}]*\}", _alerts(renamed_rules)["SimplismartScalerMultipleLeaders"]["expr"])
    assert selector is not None
    assert ('scaler_leader{job="gpu-scaler", namespace="platform"}', ["1"]) == (
        selector.group(0), [s["value"][1] for s in release_prometheus.vector(f"sum({selector.group(0)})")]
    )
