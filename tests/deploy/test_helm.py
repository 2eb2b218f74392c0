"""The Helm chart, rendered and linted by the real ``helm`` binary (v4.1.4, see tests/deploy/fetch_helm.py).

Each value set is rendered once per module (``helm template``) and the manifests are read
back with PyYAML; ``helm lint --strict`` runs on each set; the schema and the template
guards are driven through ``helm template`` as a user meets them; the release notes come
from ``helm install --dry-run=client``, which needs no cluster. Helm's own directories and
its kubeconfig point into a temporary directory, so no call reads or writes a real one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaler.settings import ENV_PREFIX, Settings, load_settings
from tests.deploy.chart import SETTINGS_NOT_FROM_VALUES, load_values
from tests.deploy.conftest import ALERTS, CHART, DASHBOARD, REPO
from tests.deploy.helm_cli import NAMESPACE, RELEASE, Helm
from tests.doc_pages import marked_section

pytestmark = pytest.mark.integration

FULLNAME = "scaler-simplismart-scaler"
ORG_ID = "5f0c8c9e-3c1b-4e7a-9a55-2d1f8f0e6b11"
POLICY = """\
version: 1
policies:
  - name: llama-office-hours
    match:
      names: ["llama-*"]
    timezone: Europe/Berlin
    default: stopped
    windows:
      - name: office
        between: "Mon-Fri 08:00-19:00"
        state: {min_replicas: 1, max_replicas: 2}
"""

#: Every daemon setting away from its default, so each one can be traced to its variable.
CONFIG = {
    "apiUrl": "https://simplismart.internal.example.com",
    "httpTimeoutSeconds": 12.5,
    "maxConcurrency": 7,
    "maxRequestsPerSecond": 3.5,
    "apiRetryAttempts": 5,
    "apiRetryTimeoutSeconds": 45,
    "allowDelete": True,
    "allowEmptyPolicies": True,
    "reconcileIntervalSeconds": 90,
    "healthIntervalSeconds": 40,
    "healthIdleIntervalSeconds": 0,
    "newDeploymentGraceSeconds": 1200,
    "maxActionsPerCycle": 11,
    "logFormat": "console",
    "logLevel": "debug",
    "httpPort": 9500,
    "leaderHeartbeatSeconds": 2,
    "leaderLeaseSeconds": 5,
    "leaderCampaignSeconds": 3,
    "leaderTakeoverDelaySeconds": 8,
    "notifyAheadSeconds": 600,
    "notifyEvents": "transition_upcoming,action_failed",
    "consoleUrl": "https://scaler.example.com",
    "caBundle": {"existingConfigMap": "corporate-ca", "key": "ca.pem"},
}

#: Every optional part on: several replicas on PostgreSQL (hence a PDB), an existing token
#: Secret and PVC, policies inline, the ServiceMonitor, the PrometheusRule, the dashboard.
EVERYTHING = {
    "orgId": ORG_ID,
    "dryRun": True,
    "replicaCount": 2,
    "updateStrategy": {"type": "RollingUpdate"},
    "apiToken": {"existingSecret": "simplismart-api", "existingSecretKey": "api-token"},
    "controlApi": {"existingSecret": "scaler-api-keys", "existingSecretKey": "keys.yaml"},
    "notifications": {"existingSecret": "scaler-webhooks", "existingSecretKey": "urls"},
    "policies": {"files": {"office-hours.yaml": POLICY}},
    "state": {"existingSecret": "scaler-postgresql", "persistence": {"existingClaim": "scaler-state"}},
    "config": CONFIG,
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {"enabled": True},
    "grafanaDashboard": {"enabled": True, "namespace": "monitoring"},
    "podDisruptionBudget": {"maxUnavailable": 1},
    "networkPolicy": {
        "enabled": True,
        "databaseTo": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "databasePort": 6432,
        "extraEgress": [{"to": [{"ipBlock": {"cidr": "10.30.0.8/32"}}], "ports": [{"port": 3128, "protocol": "TCP"}]}],
    },
}

#: The least that installs: a token.
MINIMAL = {"apiToken": {"value": "not-a-real-token"}}

#: The value sets rendered: MINIMAL, the chart's example overrides (ci/*.yaml) and EVERYTHING.
VALUE_SETS: dict[str, Mapping[str, Any]] = {
    "minimal": MINIMAL,
    **{path.name.removesuffix("-values.yaml"): yaml.safe_load(path.read_text())
       for path in sorted((CHART / "ci").glob("*-values.yaml"))},
    "everything": EVERYTHING,
}

#: What ``helm lint --strict`` may say, and why each is acceptable.
JUSTIFIED_LINT = {
    "[INFO] Chart.yaml: icon is recommended": "the project has no icon to point to yet",
}

#: The (kind, name, namespace) rendered by each value set.
EXPECTED_OBJECTS = {
    "minimal": [
        ("ConfigMap", f"{FULLNAME}-policies", NAMESPACE), ("Deployment", FULLNAME, NAMESPACE),
        ("Secret", FULLNAME, NAMESPACE), ("Service", FULLNAME, NAMESPACE), ("ServiceAccount", FULLNAME, NAMESPACE),
    ],
    "default": [
        ("ConfigMap", f"{FULLNAME}-policies", NAMESPACE), ("Deployment", FULLNAME, NAMESPACE),
        ("Secret", FULLNAME, NAMESPACE), ("Service", FULLNAME, NAMESPACE), ("ServiceAccount", FULLNAME, NAMESPACE),
    ],
    "existing-resources": [("Deployment", FULLNAME, NAMESPACE), ("Service", FULLNAME, NAMESPACE)],
    "ha-postgresql": [
        ("Deployment", FULLNAME, NAMESPACE), ("PodDisruptionBudget", FULLNAME, NAMESPACE),
        ("Service", FULLNAME, NAMESPACE), ("ServiceAccount", FULLNAME, NAMESPACE),
    ],
    "monitoring": [
        ("ConfigMap", f"{FULLNAME}-dashboard", "monitoring"), ("Deployment", FULLNAME, NAMESPACE),
        ("PrometheusRule", FULLNAME, NAMESPACE), ("Service", FULLNAME, NAMESPACE),
        ("ServiceAccount", FULLNAME, NAMESPACE), ("ServiceMonitor", FULLNAME, NAMESPACE),
    ],
    "hardened": [
        ("Deployment", FULLNAME, NAMESPACE), ("NetworkPolicy", FULLNAME, NAMESPACE),
        ("PersistentVolumeClaim", f"{FULLNAME}-state", NAMESPACE), ("Service", FULLNAME, NAMESPACE),
        ("ServiceAccount", FULLNAME, NAMESPACE),
    ],
    "everything": [
        ("ConfigMap", f"{FULLNAME}-dashboard", "monitoring"), ("ConfigMap", f"{FULLNAME}-policies", NAMESPACE),
        ("Deployment", FULLNAME, NAMESPACE), ("NetworkPolicy", FULLNAME, NAMESPACE),
        ("PodDisruptionBudget", FULLNAME, NAMESPACE),
        ("PrometheusRule", FULLNAME, NAMESPACE), ("Service", FULLNAME, NAMESPACE),
        ("ServiceAccount", FULLNAME, NAMESPACE), ("ServiceMonitor", FULLNAME, NAMESPACE),
    ],
}


@pytest.fixture(scope="module")
def helm(helm_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The chart's ``helm``, with its own empty home."""
    return Helm(helm_binary, tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> dict[str, list[dict[str, Any]]]:
    """The manifests of every value set of :data:`VALUE_SETS`, rendered once."""
    return {name: helm.render(values) for name, values in VALUE_SETS.items()}


def _one(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert 1 == len(found), f"{len(found)} {kind} {name or ''}"
    return found[0]


def _pod(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(manifests, "Deployment")["spec"]["template"]["spec"]


def _container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    containers = _pod(manifests)["containers"]
    assert 1 == len(containers)
    return containers[0]


def _env(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in _container(manifests)["env"]}


def _volume(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(v for v in _pod(manifests)["volumes"] if v["name"] == name)


def _mount(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in _container(manifests)["volumeMounts"] if m["name"] == name)


def _chart_metadata() -> dict[str, Any]:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


# --- lint --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_strict_passes_with_only_justified_messages(helm: Helm, name: str) -> None:
    """``helm lint --strict`` passes with the value set, saying nothing beyond :data:`JUSTIFIED_LINT`."""
    result = helm.run("lint", "--strict", str(CHART), "--namespace", NAMESPACE, values=VALUE_SETS[name])
    said = [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith("[") or line.startswith("level=")]
    assert (0, sorted(JUSTIFIED_LINT)) == (result.returncode, sorted(said))


# --- what each value set renders ---------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_renders_the_expected_objects(rendered: dict[str, list[dict[str, Any]]], name: str) -> None:
    """Each value set renders exactly its objects: the Secret only without existingSecret, the
    policies ConfigMap only without existingConfigMap, the PDB only with several replicas, the
    ServiceMonitor, PrometheusRule and dashboard ConfigMap only when enabled."""
    actual = sorted((m["kind"], m["metadata"]["name"], m["metadata"]["namespace"]) for m in rendered[name])
    assert sorted(EXPECTED_OBJECTS[name]) == actual


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_object_carries_the_standard_labels(rendered: dict[str, list[dict[str, Any]]], name: str) -> None:
    """Every object is labelled with the app.kubernetes.io/* labels and helm.sh/chart."""
    chart = _chart_metadata()
    expected = {
        "app.kubernetes.io/name": "simplismart-scaler",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/version": chart["appVersion"],
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "simplismart-scaler",
        "helm.sh/chart": f"simplismart-scaler-{chart['version']}",
    }
    actual = {(m["kind"], m["metadata"]["name"]): {k: m["metadata"]["labels"].get(k) for k in expected}
              for m in rendered[name]}
    assert {key: expected for key in actual} == actual


def test_selectors_agree_and_select_the_pods(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The Deployment, Service, PDB and ServiceMonitor select the same labels, which the pods carry;
    the Service and the ServiceMonitor reach the container's named port."""
    manifests = rendered["everything"]
    deployment = _one(manifests, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _one(manifests, "Service")
    monitor = _one(manifests, "ServiceMonitor")
    port_name = _container(manifests)["ports"][0]["name"]
    assert (
        {"app.kubernetes.io/name": "simplismart-scaler", "app.kubernetes.io/instance": RELEASE},
        [selector] * 4,
        (port_name, port_name),
        [NAMESPACE],
    ) == (
        {key: pod_labels[key] for key in selector},
        [selector, service["spec"]["selector"], _one(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
         monitor["spec"]["selector"]["matchLabels"]],
        (service["spec"]["ports"][0]["targetPort"], monitor["spec"]["endpoints"][0]["port"]),
        monitor["spec"]["namespaceSelector"]["matchNames"],
    )


def test_container_is_locked_down(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The pod runs non-root with the runtime's seccomp profile; the container has a read-only root,
    no capability and no privilege escalation."""
    manifests = rendered["default"]
    pod, container = _pod(manifests), _container(manifests)
    assert {
        "pod.runAsNonRoot": True, "pod.runAsUser": 10001, "pod.seccompProfile": {"type": "RuntimeDefault"},
        "runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "privileged": False, "capabilities": {"drop": ["ALL"]},
    } == {
        "pod.runAsNonRoot": pod["securityContext"]["runAsNonRoot"],
        "pod.runAsUser": pod["securityContext"]["runAsUser"],
        "pod.seccompProfile": pod["securityContext"]["seccompProfile"],
        **{key: container["securityContext"].get(key) for key in (
            "runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "privileged", "capabilities")},
    }


def test_no_service_account_token_is_mounted(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Neither the pod nor its ServiceAccount mounts a Kubernetes API token; the pod runs as that account."""
    manifests = rendered["default"]
    account = _one(manifests, "ServiceAccount")
    pod = _pod(manifests)
    assert (False, False, account["metadata"]["name"]) == (
        pod["automountServiceAccountToken"], account["automountServiceAccountToken"], pod["serviceAccountName"]
    )


def test_probes_are_healthz_and_readyz_on_the_http_port(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Liveness asks /healthz and readiness /readyz, both on the container's HTTP port."""
    container = _container(rendered["everything"])
    port = container["ports"][0]
    assert (("http-metrics", CONFIG["httpPort"]), {"path": "/healthz", "port": "http-metrics"},
            {"path": "/readyz", "port": "http-metrics"}) == (
        (port["name"], port["containerPort"]), container["livenessProbe"]["httpGet"],
        container["readinessProbe"]["httpGet"],
    )


def test_env_names_are_the_daemons_settings(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The container's variables are exactly the daemon's settings, less those the chart leaves out on purpose
    (the inline token: a file instead; the state URL's file: a Secret's value instead)."""
    expected = {f"{ENV_PREFIX}{field.upper()}" for field in Settings.model_fields if field not in SETTINGS_NOT_FROM_VALUES}
    assert sorted(expected) == sorted(_env(rendered["everything"]))


def test_every_setting_from_values_reaches_the_daemon(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendered variables, read by the daemon's own settings loader, give back every value set in
    orgId, dryRun and config (each away from its default)."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in _env(rendered["everything"]).items():
        # The webhook URLs file is read as the settings load, and exists only in the pod (its mount is
        # checked by test_the_webhook_urls_are_mounted_from_the_notifications_secret).
        if isinstance(value, str) and name != "SCALER_NOTIFY_WEBHOOK_URLS_FILE":
            monkeypatch.setenv(name, value)
    settings = load_settings().public_view()
    expected = {_snake(key): value for key, value in CONFIG.items() if key != "caBundle"}
    expected |= {"org_id": ORG_ID, "dry_run": True, "ca_bundle": f"/etc/scaler/ca/{CONFIG['caBundle']['key']}"}
    actual = {field: settings[field] for field in expected}
    assert expected == actual


def test_the_keys_file_is_mounted_from_the_control_api_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With controlApi.existingSecret the keys file is mounted read-only and named by SCALER_API_KEYS_FILE;
    without it, neither exists."""
    container = _container(rendered["everything"])
    mount = next(item for item in container["volumeMounts"] if item["name"] == "api-keys")
    volume = _volume(rendered["everything"], "api-keys")
    assert ("/etc/scaler/api-keys/keys.yaml", "/etc/scaler/api-keys", True, "scaler-api-keys") == (
        _env(rendered["everything"])["SCALER_API_KEYS_FILE"],
        mount["mountPath"],
        mount["readOnly"],
        volume["secret"]["secretName"],
    )
    assert "SCALER_API_KEYS_FILE" not in _env(rendered["minimal"])


def test_the_webhook_urls_are_mounted_from_the_notifications_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With notifications.existingSecret the URLs file is mounted read-only and named by
    SCALER_NOTIFY_WEBHOOK_URLS_FILE; without it, neither exists."""
    container = _container(rendered["everything"])
    mount = next(item for item in container["volumeMounts"] if item["name"] == "webhooks")
    volume = _volume(rendered["everything"], "webhooks")
    assert ("/etc/scaler/webhooks/webhooks", "/etc/scaler/webhooks", True, "scaler-webhooks", "urls") == (
        _env(rendered["everything"])["SCALER_NOTIFY_WEBHOOK_URLS_FILE"],
        mount["mountPath"],
        mount["readOnly"],
        volume["secret"]["secretName"],
        volume["secret"]["items"][0]["key"],
    )
    assert "SCALER_NOTIFY_WEBHOOK_URLS_FILE" not in _env(rendered["minimal"])


def test_state_url_comes_from_the_existing_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With state.existingSecret, SCALER_STATE_URL is read from that Secret's key."""
    assert {"secretKeyRef": {"name": "scaler-postgresql", "key": "url"}} == _env(rendered["everything"])[
        "SCALER_STATE_URL"
    ]


def test_policies_config_map_is_mounted_at_the_policy_path(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The chart's policies ConfigMap, holding the policy files, is mounted whole and read-only where
    SCALER_POLICY_PATH points."""
    manifests = rendered["everything"]
    config_map = _one(manifests, "ConfigMap", f"{FULLNAME}-policies")
    mount = _mount(manifests, "policies")
    assert ({"office-hours.yaml": POLICY.rstrip("\n")}, config_map["metadata"]["name"],
            (_env(manifests)["SCALER_POLICY_PATH"], True, None)) == (
        config_map["data"], _volume(manifests, "policies")["configMap"]["name"],
        (mount["mountPath"], mount["readOnly"], mount.get("subPath")),
    )


def test_existing_policies_config_map_is_mounted(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With policies.existingConfigMap, that ConfigMap is the policies volume."""
    assert {"name": "scaler-policies"} == _volume(rendered["existing-resources"], "policies")["configMap"]


def test_policy_change_leaves_the_pods_alone(helm: Helm, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Editing a policy changes the ConfigMap only, not the pod template: the running daemon re-reads
    the mounted files, so no checksum annotation rolls the pods (the chart has none on purpose)."""
    changed = helm.render({**VALUE_SETS["default"], "policies": {"files": {"office-hours.yaml": POLICY}}})
    before = _one(rendered["default"], "ConfigMap", f"{FULLNAME}-policies")["data"]
    after = _one(changed, "ConfigMap", f"{FULLNAME}-policies")["data"]
    assert (True, _one(rendered["default"], "Deployment")["spec"]["template"]) == (
        before != after, _one(changed, "Deployment")["spec"]["template"]
    )


def test_token_comes_from_the_charts_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Without existingSecret, the chart's Secret holds apiToken.value, mounted as the token file."""
    manifests = rendered["default"]
    secret = _one(manifests, "Secret")
    volume = _volume(manifests, "api-token")["secret"]
    token_file = f"{_mount(manifests, 'api-token')['mountPath']}/{volume['items'][0]['path']}"
    assert (VALUE_SETS["default"]["apiToken"]["value"], secret["metadata"]["name"], "token",
            _env(manifests)["SCALER_API_TOKEN_FILE"]) == (
        base64.b64decode(secret["data"]["token"]).decode(), volume["secretName"], volume["items"][0]["key"],
        token_file,
    )


def test_token_comes_from_the_existing_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With apiToken.existingSecret, that Secret's key is mounted as the token file, readable by its owner only."""
    volume = _volume(rendered["existing-resources"], "api-token")["secret"]
    assert ("simplismart-api", [{"key": "api-token", "path": "token"}], 0o400) == (
        volume["secretName"], volume["items"], volume["defaultMode"]
    )


def test_state_volume_is_an_empty_dir_by_default(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Without existingClaim the state volume is a size-limited emptyDir holding the SQLite database."""
    manifests = rendered["default"]
    assert ({"emptyDir": {"sizeLimit": load_values()["state"]["persistence"]["sizeLimit"]}, "name": "state"},
            "sqlite:////var/lib/scaler/state.db", "/var/lib/scaler") == (
        _volume(manifests, "state"), _env(manifests)["SCALER_STATE_URL"], _mount(manifests, "state")["mountPath"]
    )


def test_state_volume_is_the_existing_claim(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With existingClaim the state volume is that PersistentVolumeClaim."""
    assert {"name": "state", "persistentVolumeClaim": {"claimName": "scaler-state"}} == _volume(
        rendered["existing-resources"], "state"
    )


def test_pod_disruption_budget_keeps_one_replica(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With two replicas the PDB keeps one available and the Deployment asks for two."""
    manifests = rendered["ha-postgresql"]
    assert (1, 2) == (_one(manifests, "PodDisruptionBudget")["spec"]["minAvailable"],
                      _one(manifests, "Deployment")["spec"]["replicas"])


def _alerts_as_the_chart_adapts_them(matchers: str, runbook_base: str | None) -> dict[str, Any]:
    """files/alerts.yaml with each job="simplismart-scaler" replaced by ``matchers`` and, given a base, each
    runbook_url made base#alertname."""
    document = yaml.safe_load(ALERTS.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].replace('job="simplismart-scaler"', matchers)
            if runbook_base is not None:
                rule["annotations"]["runbook_url"] = f"{runbook_base}#{rule['alert'].lower()}"
    return document


def _rules_by_alert(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def test_prometheus_rule_is_the_alerts_file_adapted_to_the_release(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The PrometheusRule's spec is files/alerts.yaml with the release's job and namespace in place of
    job="simplismart-scaler", and each runbook link on the documentation's runbook page."""
    rule = _one(rendered["monitoring"], "PrometheusRule")
    expected = _alerts_as_the_chart_adapts_them(
        f'job="simplismart-scaler", namespace="{NAMESPACE}"', load_values()["prometheusRule"]["runbookUrlBase"]
    )
    assert (expected, "kube-prometheus-stack") == (rule["spec"], rule["metadata"]["labels"]["release"])
    assert "https://simplismart.github.io/simplismart-scaler/runbook/" == load_values()["prometheusRule"]["runbookUrlBase"]


def test_prometheus_rule_follows_name_override_disabled_severities_and_labels(helm: Helm) -> None:
    """With nameOverride the rules select that job; a disabled alert is left out, a severity set per alert
    replaces the file's, extra labels reach every alert, and an empty runbookUrlBase keeps the file's links."""
    manifests = helm.render({
        **MINIMAL, "nameOverride": "gpu-scaler",
        "prometheusRule": {
            "enabled": True, "disabled": {"SimplismartDeploymentDegraded": True},
            "severities": {"SimplismartScalerDown": "warning", "SimplismartDeploymentStartNotHealthy": "critical"},
            "additionalRuleLabels": {"team": "platform"}, "runbookUrlBase": "",
        },
    })
    rules = _rules_by_alert(_one(manifests, "PrometheusRule"))
    file_rules = _rules_by_alert({"spec": _alerts_as_the_chart_adapts_them(
        f'job="gpu-scaler", namespace="{NAMESPACE}"', None)})
    expected_severity = {name: r["labels"]["severity"] for name, r in file_rules.items()}
    del expected_severity["SimplismartDeploymentDegraded"]
    expected_severity |= {"SimplismartScalerDown": "warning", "SimplismartDeploymentStartNotHealthy": "critical"}
    assert (
        expected_severity, {"platform"},
        {name: r["expr"] for name, r in file_rules.items() if name != "SimplismartDeploymentDegraded"},
        {name: r["annotations"] for name, r in file_rules.items() if name != "SimplismartDeploymentDegraded"},
    ) == (
        {name: r["labels"]["severity"] for name, r in rules.items()}, {r["labels"]["team"] for r in rules.values()},
        {name: r["expr"] for name, r in rules.items()}, {name: r["annotations"] for name, r in rules.items()},
    )
    assert 'absent(up{job="gpu-scaler", namespace="platform"})' == rules["SimplismartScalerAbsent"]["expr"]


@pytest.mark.parametrize("setting", ["disabled", "severities"])
def test_prometheus_rule_refuses_an_alert_that_does_not_exist(helm: Helm, setting: str) -> None:
    """A misspelt alert name in prometheusRule.disabled or .severities fails the render, naming it."""
    value = True if setting == "disabled" else "warning"
    result = helm.template({**MINIMAL, "prometheusRule": {"enabled": True, setting: {"SimplismartScalerDwn": value}}})
    assert (1, True) == (
        result.returncode, f"prometheusRule.{setting}.SimplismartScalerDwn: there is no alert SimplismartScalerDwn"
        in result.stderr,
    )


def test_dashboard_config_map_carries_the_sidecar_label_and_the_dashboard(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The dashboard ConfigMap has Grafana's sidecar label grafana_dashboard: "1" and files/dashboard.json."""
    config_map = _one(rendered["monitoring"], "ConfigMap", f"{FULLNAME}-dashboard")
    assert ("1", {"grafana_folder": "Platform"}, ["simplismart-scaler.json"], json.loads(DASHBOARD.read_text())) == (
        config_map["metadata"]["labels"]["grafana_dashboard"], config_map["metadata"]["annotations"],
        list(config_map["data"]), json.loads(config_map["data"]["simplismart-scaler.json"]),
    )


def test_state_claim_is_created_with_its_size_class_and_access_mode(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With state.persistence.enabled the chart creates a PVC of the given size, class and access mode, with
    its annotations, and mounts it as the state volume."""
    manifests = rendered["hardened"]
    claim = _one(manifests, "PersistentVolumeClaim")
    assert ({"accessModes": ["ReadWriteOncePod"], "storageClassName": "fast-ssd",
             "resources": {"requests": {"storage": "2Gi"}}}, {"helm.sh/resource-policy": "keep"},
            {"name": "state", "persistentVolumeClaim": {"claimName": f"{FULLNAME}-state"}}) == (
        claim["spec"], claim["metadata"]["annotations"], _volume(manifests, "state"),
    )


@pytest.mark.parametrize(("storage_class", "expected"), [("", None), ("-", "")], ids=["default-class", "no-class"])
def test_state_claim_storage_class(helm: Helm, storage_class: str, expected: str | None) -> None:
    """An empty storageClass leaves the cluster's default class; "-" asks for no class (storageClassName "")."""
    manifests = helm.render({**MINIMAL, "state": {"persistence": {"enabled": True, "storageClass": storage_class}}})
    assert expected == _one(manifests, "PersistentVolumeClaim")["spec"].get("storageClassName", None)


def test_startup_probe_guards_the_start(rendered: dict[str, list[dict[str, Any]]], helm: Helm) -> None:
    """The startup probe asks /healthz on the HTTP port with the values' timing; startupProbe.enabled=false
    leaves it out."""
    probe = _container(rendered["hardened"])["startupProbe"]
    without = _container(helm.render({**MINIMAL, "startupProbe": {"enabled": False}}))
    assert ({"httpGet": {"path": "/healthz", "port": "http-metrics"}, "periodSeconds": 5, "timeoutSeconds": 5,
             "failureThreshold": 120}, False) == (probe, "startupProbe" in without)


def test_pod_disruption_budget_takes_max_unavailable_when_set(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With podDisruptionBudget.maxUnavailable set, the PDB has maxUnavailable and no minAvailable."""
    spec = _one(rendered["everything"], "PodDisruptionBudget")["spec"]
    assert (1, False) == (spec["maxUnavailable"], "minAvailable" in spec)


def test_network_policy_admits_the_http_port_and_lets_out_dns_api_and_database(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The NetworkPolicy selects the pods; ingress reaches the HTTP port alone; egress goes to DNS on 53, the
    API on its URL's port (443 for https), the database on its port, and the extra rule, nothing else."""
    policy = _one(rendered["everything"], "NetworkPolicy")["spec"]
    values = load_values()["networkPolicy"]
    assert (
        _one(rendered["everything"], "Deployment")["spec"]["selector"]["matchLabels"], ["Ingress", "Egress"],
        [{"ports": [{"port": "http-metrics", "protocol": "TCP"}]}],
        [
            {"to": values["dnsTo"], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"to": values["apiTo"], "ports": [{"port": 443, "protocol": "TCP"}]},
            {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 6432, "protocol": "TCP"}]},
            EVERYTHING["networkPolicy"]["extraEgress"][0],
        ],
    ) == (policy["podSelector"]["matchLabels"], policy["policyTypes"], policy["ingress"], policy["egress"])


@pytest.mark.parametrize(("api_url", "port"), [("https://api.example.com:8443/v1", 8443), ("http://sim.internal", 80)])
def test_network_policy_lets_out_the_port_of_the_api_url(helm: Helm, api_url: str, port: int) -> None:
    """The API's egress port is the one config.apiUrl names, or its scheme's."""
    manifests = helm.render({**MINIMAL, "config": {"apiUrl": api_url}, "networkPolicy": {"enabled": True}})
    assert [{"port": port, "protocol": "TCP"}] == _one(manifests, "NetworkPolicy")["spec"]["egress"][1]["ports"]


def test_network_policy_admits_only_the_given_sources(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """With networkPolicy.metricsFrom, only those peers may reach the HTTP port; without a databaseTo, no
    database egress."""
    policy = _one(rendered["hardened"], "NetworkPolicy")["spec"]
    assert (VALUE_SETS["hardened"]["networkPolicy"]["metricsFrom"], 2) == (
        policy["ingress"][0]["from"], len(policy["egress"])
    )


def test_topology_spread_constraints_spread_the_releases_pods(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """A topology spread constraint without labelSelector is given the pods' selector labels."""
    pod = _pod(rendered["hardened"])
    selector = _one(rendered["hardened"], "Deployment")["spec"]["selector"]
    assert [{**VALUE_SETS["hardened"]["topologySpreadConstraints"][0], "labelSelector": selector}] == (
        pod["topologySpreadConstraints"]
    )


def test_chart_installs_as_a_subchart_of_an_umbrella_chart(helm: Helm, tmp_path: Path) -> None:
    """An umbrella chart that depends on this one renders it, with the `global` values Helm hands every
    subchart and this chart's values under its name."""
    umbrella = tmp_path / "platform-tools"
    umbrella.mkdir()
    (umbrella / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": "platform-tools", "version": "1.0.0",
        "dependencies": [{"name": CHART.name, "version": _chart_metadata()["version"],
                          "repository": f"file://{CHART}"}],
    }))
    (umbrella / "values.yaml").write_text(yaml.safe_dump({
        "global": {"imageRegistry": "registry.example.com", "storageClass": "fast-ssd"},
        CHART.name: {"apiToken": {"existingSecret": "simplismart-api"}, "orgId": ORG_ID},
    }))
    update = helm.run("dependency", "update", str(umbrella))
    assert 0 == update.returncode, update.stderr
    result = helm.run("template", "tools", str(umbrella), "--namespace", NAMESPACE)
    assert 0 == result.returncode, result.stderr
    manifests = [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]
    deployment = _one(manifests, "Deployment")
    assert ("tools-simplismart-scaler", ORG_ID) == (
        deployment["metadata"]["name"], _env(manifests)["SCALER_ORG_ID"]
    )


# --- what the chart refuses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param({"replicas": 2}, "- at '': additional properties 'replicas' not allowed", id="unknown-key"),
        pytest.param({"config": {"maxConcurrency": "ten"}}, "- at '/config/maxConcurrency': got string, want integer",
                     id="wrong-type"),
        pytest.param({"prometheusRule": {"severities": {"SimplismartScalerDown": "page"}}},
                     "- at '/prometheusRule/severities/SimplismartScalerDown': value must be one of 'critical', "
                     "'warning', 'info'", id="unknown-severity"),
        pytest.param({"state": {"persistence": {"accessMode": "ReadOnlyMany"}}},
                     "- at '/state/persistence/accessMode': value must be one of 'ReadWriteOnce', 'ReadWriteOncePod', "
                     "'ReadWriteMany'", id="unknown-access-mode"),
    ],
)
def test_schema_rejects(helm: Helm, override: dict[str, Any], message: str) -> None:
    """``helm template`` refuses values the schema rejects, naming the field to change."""
    result = helm.template({**VALUE_SETS["default"], **override})
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert (1, True, "") == (result.returncode, message.strip() in lines, result.stdout)


def test_several_replicas_on_sqlite_names_the_state_to_set(helm: Helm) -> None:
    """Two replicas on the default SQLite state are refused with both ways out: a postgresql:// state.url
    or state.existingSecret."""
    result = helm.template({**VALUE_SETS["default"], "replicaCount": 2})
    assert (1, ["/state/existingSecret", "/state/url"]) == (
        result.returncode, sorted(set(re.findall(r"at '(/state/\w+)'", result.stderr)))
    )


def test_missing_token_fails_the_render(helm: Helm) -> None:
    """Without apiToken.existingSecret or apiToken.value, rendering fails with a message naming both."""
    values = {key: value for key, value in VALUE_SETS["default"].items() if key != "apiToken"}
    result = helm.template(values)
    assert (1, True) == (
        result.returncode,
        "set apiToken.existingSecret (recommended) or apiToken.value: the scaler needs a Simplismart API token"
        in result.stderr,
    )


# --- release notes -----------------------------------------------------------------------


def test_notes_tell_how_to_follow_the_scaler(helm: Helm) -> None:
    """The notes of a dry-run install say it is a dry run and give the logs, status and metrics commands."""
    notes = helm.notes(VALUE_SETS["default"])
    expected = [
        f"simplismart-scaler {_chart_metadata()['appVersion']} is installed as {FULLNAME} in namespace {NAMESPACE}.",
        "DRY RUN: every action is decided, logged and counted, and no mutating call is sent.",
        f"kubectl --namespace {NAMESPACE} logs deployment/{FULLNAME} --follow",
        f"kubectl --namespace {NAMESPACE} exec deployment/{FULLNAME} -- scaler status",
        f"kubectl --namespace {NAMESPACE} port-forward service/{FULLNAME} 9464:9464",
        "curl -s http://127.0.0.1:9464/metrics | grep '^scaler_'",
    ]
    lines = [line.strip() for line in notes.splitlines()]
    assert expected == [line for line in expected if line in lines]


def test_notes_name_the_job_and_namespace_the_rules_select(helm: Helm) -> None:
    """The notes name the job Prometheus gives a renamed release's targets (nameOverride), with or without
    the ServiceMonitor, never the chart's default name."""
    renamed = {**MINIMAL, "nameOverride": "gpu-scaler"}
    with_monitor = helm.notes({**renamed, "serviceMonitor": {"enabled": True}})
    without = helm.notes(renamed)
    selector = f'job="gpu-scaler", namespace="{NAMESPACE}"'
    assert (True, True, True, False) == (
        f"ServiceMonitor scaler-gpu-scaler ({selector})" in with_monitor, 'scrape job named "gpu-scaler"' in without,
        selector in without, 'job="simplismart-scaler"' in with_monitor + without,
    )


def test_notes_warn_of_a_missing_org_id_and_policies(helm: Helm) -> None:
    """Installed with a token alone, the notes warn that orgId and the policies are missing."""
    notes = helm.notes(MINIMAL)
    assert (True, True) == (
        "WARNING: orgId is empty. Start and stop calls need the organization id: set orgId." in notes,
        "WARNING: no policy files were given (policies.files or policies.existingConfigMap):" in notes,
    )


# --- the documentation's commands --------------------------------------------------------


def _docs_helm_installs() -> list[list[str]]:
    """Return the ``helm install`` commands of the deployment page, as argument lists."""
    section = marked_section("deployment.md", "deployment")
    commands = re.findall(r"^helm install .*?(?<!\\)$", section.replace("\\\n", " "), re.MULTILINE)
    return [shlex.split(command) for command in commands]


def test_docs_install_with_a_policy_file_renders_it(helm: Helm, tmp_path: Path) -> None:
    """The deployment page's ``helm install`` with --set-file, run as a dry run from a directory holding
    the chart and a policy file, puts that file in the policies ConfigMap under its own name."""
    command = next(c for c in _docs_helm_installs() if any(a.startswith("--set-file") for a in c))
    (tmp_path / "helm").mkdir()
    (tmp_path / "helm" / CHART.name).symlink_to(CHART)
    (tmp_path / "policies").mkdir()
    policy = REPO / "policies" / "examples" / "10-office-hours.yaml"
    (tmp_path / "policies" / "office-hours.yaml").write_text(policy.read_text())
    result = helm.run(*command[1:], "--dry-run=client", cwd=tmp_path)
    assert 0 == result.returncode, result.stderr
    manifests = [m for m in yaml.safe_load_all(result.stdout.split("\nMANIFEST:\n", 1)[1].split("\nNOTES:\n")[0])
                 if m]
    config_map = _one(manifests, "ConfigMap")
    assert {"office-hours.yaml": policy.read_text().rstrip("\n")} == config_map["data"]
