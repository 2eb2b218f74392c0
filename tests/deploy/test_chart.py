"""The Helm chart, checked without a ``helm`` binary: metadata, values, schema, templates."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from scaler.daemon.service import SHUTDOWN_GRACE_SECONDS
from scaler.settings import Settings
from tests.deploy.chart import (
    SETTINGS_NOT_FROM_VALUES,
    TEMPLATES,
    block_structure_errors,
    errors_with,
    has_path,
    load_schema,
    load_values,
    merge_values,
    schema_errors,
    schema_objects,
    template_actions,
    template_files,
    values_paths,
)
from tests.deploy.chart_readme import README as CHART_README
from tests.deploy.chart_readme import VALUES, read_keys, render_readme, undocumented, values_table
from tests.deploy.conftest import CHART, REPO
from tests.deploy.dockerfile import env_values, stages
from tests.deploy.metric_names import exported_series_names, referenced_metric_names
from tests.doc_pages import README, marked_section

#: Schema objects left open on purpose: Kubernetes objects, or maps of user-chosen keys.
OPEN_SCHEMA_OBJECTS = {"resources", "podSecurityContext", "securityContext", "affinity", "extraEnv[]",
                       "updateStrategy.rollingUpdate"}
EXPECTED_TEMPLATES = {
    "_helpers.tpl", "NOTES.txt", "deployment.yaml", "configmap-policies.yaml", "secret.yaml",
    "serviceaccount.yaml", "service.yaml", "servicemonitor.yaml", "prometheusrule.yaml",
    "configmap-dashboard.yaml", "poddisruptionbudget.yaml", "persistentvolumeclaim.yaml", "networkpolicy.yaml",
}
POSTGRES_URL = "postgresql://scaler:secret@db.example.com:5432/scaler"


def _package_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _chart_metadata() -> dict:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text()


def _ci_files() -> list[Path]:
    return sorted((CHART / "ci").glob("*.yaml"))


# --- metadata and plain YAML ------------------------------------------------------------


def test_chart_is_apiversion_v2_application() -> None:
    """Chart.yaml declares a Helm 3 (apiVersion v2) application chart named after the project."""
    chart = _chart_metadata()
    assert ("v2", "application", "simplismart-scaler") == (chart["apiVersion"], chart["type"], chart["name"])


def test_chart_app_version_is_the_package_version() -> None:
    """appVersion (the default image tag) is the version in pyproject.toml."""
    assert _package_version() == _chart_metadata()["appVersion"]


@pytest.mark.parametrize(
    "path", [p for p in CHART.rglob("*.yaml") if TEMPLATES not in p.parents], ids=lambda p: str(p.relative_to(CHART))
)
def test_yaml_file_outside_templates_parses(path: Path) -> None:
    """Every YAML file of the chart that is not a template is valid YAML holding a mapping."""
    assert isinstance(yaml.safe_load(path.read_text()), dict)


def test_chart_has_every_template_the_issue_lists() -> None:
    """templates/ holds exactly the expected templates."""
    assert EXPECTED_TEMPLATES == {p.name for p in template_files()}


# --- values and schema --------------------------------------------------------------


def test_schema_is_a_valid_draft7_schema() -> None:
    """values.schema.json is itself a valid JSON Schema (draft 7, as Helm reads it)."""
    import jsonschema

    jsonschema.Draft7Validator.check_schema(load_schema())


def test_default_values_validate() -> None:
    """values.yaml as shipped satisfies the schema."""
    assert [] == schema_errors(load_values())


@pytest.mark.parametrize("path", _ci_files(), ids=lambda p: p.name)
def test_example_override_validates(path: Path) -> None:
    """Each ci/*.yaml, merged over values.yaml as Helm merges it, satisfies the schema."""
    assert [] == errors_with(yaml.safe_load(path.read_text()))


def test_there_are_example_overrides() -> None:
    """The chart ships example overrides (ci/*.yaml) for chart-testing and for readers."""
    assert len(_ci_files()) >= 3


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"replicas": 2}, "(root)"),
        ({"config": {"reconcileInterval": 60}}, "config"),
        ({"serviceMonitor": {"enable": True}}, "serviceMonitor"),
        ({"apiToken": {"secret": "x"}}, "apiToken"),
        ({"livenessProbe": {"httpGet": {"path": "/"}}}, "livenessProbe"),
    ],
)
def test_schema_rejects_unknown_keys(override: dict, where: str) -> None:
    """A misspelt key, at any depth of the chart's own values, is an error naming where it is."""
    errors = errors_with(override)
    assert 1 == len(errors), errors
    assert errors[0].startswith(f"{where}: Additional properties are not allowed")


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"dryRun": "yes"}, "dryRun"),
        ({"replicaCount": 1.5}, "replicaCount"),
        ({"config": {"maxConcurrency": "10"}}, "config.maxConcurrency"),
        ({"config": {"logLevel": "verbose"}}, "config.logLevel"),
        ({"config": {"apiUrl": "api.example.com"}}, "config.apiUrl"),
        ({"orgId": "my-org"}, "orgId"),
        ({"service": {"port": 70000}}, "service.port"),
        ({"policies": {"files": {"office.txt": "x"}}}, "policies.files"),
        ({"policies": {"files": {"office.yaml": {"version": 1}}}}, "policies.files.office.yaml"),
        ({"serviceMonitor": {"interval": 30}}, "serviceMonitor.interval"),
    ],
)
def test_schema_rejects_wrong_types_and_values(override: dict, path: str) -> None:
    """A value of the wrong type or outside its allowed set is an error at its path."""
    errors = errors_with(override)
    assert [path] == [error.split(":", 1)[0] for error in errors], errors


@pytest.mark.parametrize(
    "state",
    [{}, {"url": "sqlite:////var/lib/scaler/state.db"}, {"url": ""}],
    ids=["default-sqlite", "explicit-sqlite", "empty-url"],
)
def test_schema_rejects_several_replicas_without_postgresql(state: dict) -> None:
    """replicaCount above 1 with a SQLite state is rejected: two instances would both act."""
    assert [] != errors_with({"replicaCount": 2, "state": state})


@pytest.mark.parametrize(
    "state",
    [{"url": POSTGRES_URL}, {"url": "postgres://db/scaler"}, {"existingSecret": "scaler-postgresql"}],
    ids=["postgresql-url", "postgres-url", "url-from-secret"],
)
def test_schema_accepts_several_replicas_with_postgresql(state: dict) -> None:
    """replicaCount above 1 is accepted with a PostgreSQL state URL, inline or from a Secret."""
    assert [] == errors_with({"replicaCount": 3, "state": state})


def test_schema_closes_every_object_of_the_charts_own_values() -> None:
    """Every object schema rejects unknown keys, except Kubernetes objects passed through."""
    open_objects = {
        path for path, schema in schema_objects(load_schema()) if schema.get("additionalProperties") is not False
    }
    assert OPEN_SCHEMA_OBJECTS >= open_objects, open_objects - OPEN_SCHEMA_OBJECTS


def test_every_value_is_documented() -> None:
    """Every key of values.yaml has a `# --` description, or lies inside a key that has one."""
    assert [] == [f"{key.line}: {key.path}" for key in undocumented(read_keys(VALUES.read_text()))]


def _map_paths(values: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_map_paths(value, f"{path}."))
    return paths


def test_values_reader_finds_every_key_yaml_finds() -> None:
    """The comment reader sees exactly the keys PyYAML loads from values.yaml, in the same order."""
    assert _map_paths(load_values()) == [key.path for key in read_keys(VALUES.read_text())]


def test_values_reader_can_fail() -> None:
    """An undocumented value is reported, a documented map covers its children, and an unreadable line is an error."""
    text = "# -- A map.\nparent:\n  child: 1\nother:\n  # plain comment\n  leaf: 2\nlist:\n  - a: 1\n"
    assert ["other.leaf", "list"] == [key.path for key in undocumented(read_keys(text))]
    with pytest.raises(ValueError, match=r"values.yaml:2: cannot read"):
        read_keys("a: 1\n??? not yaml\n")


def test_values_table_gives_type_default_and_description() -> None:
    """The generated table has one row per documented key: path, type, JSON default and the whole description."""
    text = "# -- Port\n# of the Service.\nport: 9464\n# -- Labels | extra.\nlabels: {a: b}\nname: x\n"
    assert [
        "| `port` | int | `9464` | Port of the Service. |",
        '| `labels` | object | `{"a": "b"}` | Labels \\| extra. |',
    ] == values_table(text).splitlines()[2:]


def test_chart_readme_values_table_is_current() -> None:
    """helm/simplismart-scaler/README.md holds the table values.yaml generates (regenerate: make chart-readme)."""
    readme = CHART_README.read_text()
    assert render_readme(readme, VALUES.read_text()) == readme, "the chart README is stale: run make chart-readme"


def test_config_defaults_are_the_daemons_defaults() -> None:
    """Each config.* default in values.yaml equals the daemon's own default for that setting."""
    config = load_values()["config"]
    differing = {}
    for key, value in config.items():
        if isinstance(value, dict):
            continue
        field = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        default = Settings.model_fields[field].default
        if key == "logFormat":
            default = "json"  # the daemon's default off a terminal, which a pod is
        if default != value:
            differing[key] = (default, value)
    assert {} == differing


# --- templates ----------------------------------------------------------------


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_template_delimiters_balance(path: Path) -> None:
    """Every {{ has its }}, and if/with/range/define blocks nest and close."""
    text = path.read_text()
    assert text.count("{{") == text.count("}}")
    assert [] == block_structure_errors(text)


def test_block_check_finds_an_unclosed_block() -> None:
    """The nesting check can fail: an `if` without its `end` is reported."""
    assert ["'if' never closed"] == block_structure_errors("{{- if .Values.a }}\nx: 1\n")


def test_every_values_path_in_templates_exists() -> None:
    """Every .Values.x.y a template refers to is a key path of values.yaml."""
    values = load_values()
    missing = sorted(
        f"{path.name}: .Values.{dotted}"
        for path in template_files()
        for dotted in values_paths(path.read_text())
        if not has_path(values, dotted)
    )
    assert [] == missing


def test_every_top_level_value_is_used() -> None:
    """Every top-level key of values.yaml is read by some template (no dead settings)."""
    used = {dotted.split(".")[0] for path in template_files() for dotted in values_paths(path.read_text())}
    assert set(load_values()) == used


def test_every_daemon_setting_is_set_by_the_deployment() -> None:
    """Each SCALER_* setting of scaler.settings.Settings is set in the Deployment (or exempt, with a reason)."""
    env_names = set(re.findall(r"- name: (SCALER_[A-Z0-9_]+)", _template("deployment.yaml")))
    expected = {f"SCALER_{name.upper()}" for name in Settings.model_fields if name not in SETTINGS_NOT_FROM_VALUES}
    assert expected == env_names


def test_each_config_value_feeds_its_own_setting() -> None:
    """Each SCALER_* variable set from config.* takes the value named after it (healthIdleIntervalSeconds ->
    SCALER_HEALTH_IDLE_INTERVAL_SECONDS), and every scalar config value is used so."""
    pairs = re.findall(r"- name: (SCALER_[A-Z0-9_]+)\n\s+value: \{\{ \.Values\.config\.(\w+)\b",
                       _template("deployment.yaml"))
    expected = {f"SCALER_{re.sub(r'(?<!^)(?=[A-Z])', '_', key).upper()}": key for _, key in pairs}
    scalars = {key for key, value in load_values()["config"].items() if not isinstance(value, dict)}
    assert (expected, scalars) == (dict(pairs), {key for _, key in pairs})


def _env_value(name: str) -> str:
    match = re.search(rf"- name: {name}\n\s+value: (\S+)", _template("deployment.yaml"))
    assert match is not None, name
    return match.group(1)


def _mount_path(volume: str) -> str:
    match = re.search(rf"- name: {volume}\n\s+mountPath: (\S+)", _template("deployment.yaml"))
    assert match is not None, volume
    return match.group(1)


def test_policies_are_mounted_where_the_daemon_reads_them() -> None:
    """SCALER_POLICY_PATH is the policies ConfigMap's mount (the image's default too), mounted whole.

    A subPath mount would never see a ConfigMap update; the whole volume, with its ..data
    symlink, does (tests/deploy/test_policy_volume.py shows the daemon reads it right).
    """
    deployment = _template("deployment.yaml")
    image_env = env_values(stages()[-1])
    assert ("/etc/scaler/policies",) * 3 == (
        _env_value("SCALER_POLICY_PATH"), _mount_path("policies"), image_env["SCALER_POLICY_PATH"]
    )
    assert "subPath" not in deployment


def test_token_file_is_the_secret_mounted_for_its_owner() -> None:
    """SCALER_API_TOKEN_FILE is the one item of the token Secret's mount, with mode 0400."""
    deployment = _template("deployment.yaml")
    token_file = _env_value("SCALER_API_TOKEN_FILE")
    assert (_mount_path("api-token"), "token") == tuple(token_file.rsplit("/", 1))
    assert re.search(r"- name: api-token\n\s+secret:\n.*?defaultMode: 0400\n.*?path: token\n", deployment,
                     re.DOTALL)


def test_default_state_lies_on_the_state_volume() -> None:
    """Without a state URL the database is on the state volume, where the image declares its VOLUME."""
    helpers = (TEMPLATES / "_helpers.tpl").read_text()
    default = re.search(r'define "simplismart-scaler.stateUrl".*?default "(sqlite:///[^"]+)"', helpers, re.DOTALL)
    assert default is not None
    database = Path(default.group(1).removeprefix("sqlite:///"))
    volume = next(i for i in stages()[-1] if i.keyword == "VOLUME").exec_form()
    assert (Path(_mount_path("state")), [_mount_path("state")], default.group(1)) == (
        database.parent, volume, env_values(stages()[-1])["SCALER_STATE_URL"]
    )


def test_pod_grace_period_outlasts_the_daemons_shutdown() -> None:
    """Kubernetes waits longer after SIGTERM than the daemon gives calls in flight, so it never SIGKILLs one."""
    assert load_values()["terminationGracePeriodSeconds"] > SHUTDOWN_GRACE_SECONDS


def test_service_publishes_pods_that_are_not_ready() -> None:
    """A scaler whose token is refused is not ready, and must still be scraped for its alerts to fire."""
    assert "publishNotReadyAddresses: true" in _template("service.yaml")


def test_deployment_security_context_comes_from_values() -> None:
    """The pod and the container take their securityContext from values, at the right level."""
    deployment = _template("deployment.yaml")
    assert re.search(r"\n      securityContext:\n\s+\{\{- toYaml \.Values\.podSecurityContext \| nindent 8 \}\}", deployment)
    assert re.search(r"\n          securityContext:\n\s+\{\{- toYaml \.Values\.securityContext \| nindent 12 \}\}", deployment)


def test_default_security_context_is_locked_down() -> None:
    """By default: non-root UID 10001, read-only root, no capabilities, no escalation, RuntimeDefault seccomp."""
    values = load_values()
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert (True, 10001, 10001, "RuntimeDefault") == (
        pod["runAsNonRoot"], pod["runAsUser"], pod["runAsGroup"], pod["seccompProfile"]["type"]
    )
    assert (False, True, False, ["ALL"]) == (
        container["allowPrivilegeEscalation"], container["readOnlyRootFilesystem"],
        container["privileged"], container["capabilities"]["drop"],
    )


def test_image_user_is_the_charts_user() -> None:
    """The Dockerfile's USER is the UID/GID the chart runs as."""
    values = load_values()["podSecurityContext"]
    user = re.search(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert user is not None
    assert (values["runAsUser"], values["runAsGroup"]) == (int(user.group(1)), int(user.group(2)))


def test_no_service_account_token_is_mounted() -> None:
    """Neither the ServiceAccount nor the pod mounts a Kubernetes API token."""
    assert "automountServiceAccountToken: false" in _template("serviceaccount.yaml")
    assert "automountServiceAccountToken: false" in _template("deployment.yaml")


def test_probes_use_healthz_and_readyz() -> None:
    """Liveness checks /healthz and readiness /readyz on the metrics port."""
    deployment = _template("deployment.yaml")
    assert re.search(r"livenessProbe:\n\s+httpGet:\n\s+path: /healthz\n\s+port: http-metrics", deployment)
    assert re.search(r"readinessProbe:\n\s+httpGet:\n\s+path: /readyz\n\s+port: http-metrics", deployment)


def test_state_volume_is_a_claim_or_an_empty_dir() -> None:
    """The state volume at /var/lib/scaler is a PVC (existing, or the chart's with persistence.enabled), an
    emptyDir otherwise."""
    deployment = _template("deployment.yaml")
    assert "mountPath: /var/lib/scaler" in deployment
    assert re.search(
        r"\{\{- if or \.Values\.state\.persistence\.existingClaim \.Values\.state\.persistence\.enabled \}\}\n"
        r"\s+persistentVolumeClaim:.*?\{\{- else \}\}\n\s+emptyDir:", deployment, re.DOTALL,
    )


def test_secret_is_created_only_without_existing_secret() -> None:
    """The token Secret template renders only when apiToken.existingSecret is empty."""
    assert _template("secret.yaml").startswith("{{- if not .Values.apiToken.existingSecret }}")


def test_policies_config_map_is_created_only_without_existing_one() -> None:
    """The policies ConfigMap renders only when policies.existingConfigMap is empty."""
    assert _template("configmap-policies.yaml").startswith("{{- if not .Values.policies.existingConfigMap }}")


def test_pod_disruption_budget_only_with_several_replicas() -> None:
    """The PodDisruptionBudget renders exactly when replicaCount is above 1."""
    assert _template("poddisruptionbudget.yaml").startswith("{{- if gt (int .Values.replicaCount) 1 }}")


@pytest.mark.parametrize(
    ("name", "switch"),
    [("servicemonitor.yaml", "serviceMonitor"), ("prometheusrule.yaml", "prometheusRule"),
     ("configmap-dashboard.yaml", "grafanaDashboard")],
)
def test_monitoring_resources_are_optional(name: str, switch: str) -> None:
    """ServiceMonitor, PrometheusRule and dashboard ConfigMap render only when enabled, off by default."""
    assert _template(name).startswith(f"{{{{- if .Values.{switch}.enabled }}}}")
    assert load_values()[switch]["enabled"] is False


def test_prometheus_operator_resources_use_monitoring_v1() -> None:
    """ServiceMonitor and PrometheusRule are monitoring.coreos.com/v1 resources."""
    assert "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor" in _template("servicemonitor.yaml")
    assert "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule" in _template("prometheusrule.yaml")


def test_rules_and_dashboard_have_one_source() -> None:
    """The PrometheusRule and the dashboard ConfigMap embed files/alerts.yaml and files/dashboard.json."""
    files = {
        name: re.findall(r'\.Files\.Get "([^"]+)"', _template(name))
        for name in ("prometheusrule.yaml", "configmap-dashboard.yaml")
    }
    assert {"prometheusrule.yaml": ["files/alerts.yaml"], "configmap-dashboard.yaml": ["files/dashboard.json"]} == files
    assert all((CHART / path).is_file() for paths in files.values() for path in paths)


def test_dashboard_config_map_carries_the_sidecar_label() -> None:
    """By default the dashboard ConfigMap is labelled grafana_dashboard: "1" for Grafana's sidecar."""
    assert {"grafana_dashboard": "1"} == load_values()["grafanaDashboard"]["labels"]


def test_service_monitor_names_the_job_the_alerts_select() -> None:
    """The ServiceMonitor's job label is the pods' app.kubernetes.io/name (the chart name or nameOverride), the
    job the chart's alert rules select on in place of the plain file's job="simplismart-scaler"."""
    helpers = _template("_helpers.tpl")
    assert "jobLabel: app.kubernetes.io/name" in _template("servicemonitor.yaml")
    assert re.search(r'define "simplismart-scaler.job" -\}\}\n\{\{- include "simplismart-scaler.name" \. \}\}', helpers)
    assert 'job="simplismart-scaler"' in (CHART / "files" / "alerts.yaml").read_text()
    assert 'replace "job=\\"simplismart-scaler\\"" $matchers' in _template("prometheusrule.yaml")
    assert "simplismart-scaler" == _chart_metadata()["name"]


def test_helpers_define_the_standard_names_and_labels() -> None:
    """_helpers.tpl defines name, fullname, chart, labels, selectorLabels and serviceAccountName."""
    defined = set(re.findall(r'define "simplismart-scaler\.(\w+)"', _template("_helpers.tpl")))
    assert {"name", "fullname", "chart", "labels", "selectorLabels", "serviceAccountName"} <= defined


def test_every_include_names_a_defined_helper() -> None:
    """Every include/template call refers to a helper that _helpers.tpl defines."""
    defined = set(re.findall(r'define "([^"]+)"', _template("_helpers.tpl")))
    used = {
        name
        for path in template_files()
        for body in template_actions(path.read_text())
        for name in re.findall(r'(?:include|template) "([^"]+)"', body)
    }
    assert set() == used - defined


def test_every_metric_in_the_chart_exists_in_the_daemon() -> None:
    """Every scaler_* name in the chart (templates, values, dashboard, rules) is a series the daemon exports."""
    text = "".join(p.read_text() for p in sorted(CHART.rglob("*")) if p.is_file())
    referenced = referenced_metric_names(text)
    assert referenced, "the chart refers to no metric at all"
    assert set() == referenced - exported_series_names()


def test_metric_name_check_can_fail() -> None:
    """A misspelt metric name is caught by the name check."""
    assert {"scaler_action_total"} == referenced_metric_names("rate(scaler_action_total[5m])") - exported_series_names()


def test_merge_replaces_lists_and_deletes_nulls() -> None:
    """The values merge follows Helm: maps merge, lists are replaced, null removes a key."""
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert {"a": {"b": 2, "c": [3]}} == merge_values(base, {"a": {"b": 2, "c": [3]}, "d": None})


# --- the documentation's instructions -----------------------------------------------------


def test_docs_install_with_an_existing_secret_and_a_policy_file() -> None:
    """The deployment page shows `helm install` with an existing token Secret and a policy file."""
    section = marked_section("deployment.md", "deployment")
    install = re.search(r"helm install .*?(?=\n```)", section, re.DOTALL)
    assert install is not None
    assert "--set apiToken.existingSecret=" in install.group(0)
    assert "--set-file 'policies.files." in install.group(0)


def test_docs_helm_commands_set_only_existing_values() -> None:
    """Every --set/--set-file path in the helm commands of the documentation, the README and the chart's README
    is a key path of values.yaml."""
    values = load_values()
    text = (
        marked_section("deployment.md", "deployment")
        + marked_section("dashboards-and-alerts.md", "dashboards")
        + README.read_text()
        + CHART_README.read_text()
    )
    paths = re.findall(r"--set(?:-file)? '?([A-Za-z][\w.\\-]*)=", text)
    assert paths
    unknown = []
    for raw in paths:
        keys = [key.replace("\\.", ".") for key in re.split(r"(?<!\\)\.", raw)]
        node = values
        for key in keys:
            if isinstance(node, dict) and node == {} and node is not values:
                break  # a map of user-chosen keys (policy files, labels)
            if not isinstance(node, dict) or key not in node:
                unknown.append(raw)
                break
            node = node[key]
    assert [] == unknown
