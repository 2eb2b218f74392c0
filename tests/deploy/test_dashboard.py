"""The Grafana dashboard JSON, checked as a file: variables, panels, units, data sources, annotations, import."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.dashboard import (
    INSTALLATION_VARIABLES,
    all_panels,
    dashboard_annotations,
    dashboard_targets,
    load_dashboard,
    selectors_missing_installation,
    substitute_variables,
    variable_queries,
)
from tests.deploy.conftest import DASHBOARD
from tests.deploy.metric_names import PER_DEPLOYMENT_NAMES, exported_series_names, referenced_metric_names

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The panels an operator needs to see what the scaler does and saves, by title.
REQUIRED_PANELS = (
    "Actions per minute by action and result",
    "Errors by reason",
    "Health per deployment",
    "Status per deployment",
    "Running GPUs by accelerator",
    "Desired vs ready replicas",
    "GPU-hours saved today",
    "GPU-hours saved, 7 days",
    "Dollars saved today",
    "Dollars saved, 7 days",
    "Saving rate by accelerator",
    "Next transition per deployment",
    "Reconcile duration and age",
    "API latency by endpoint",
    "API error rate by endpoint",
    "Policy reloads and conflicts",
    "Wallet and API auth",
    "Scheduler events",
)


def _panels_by_title() -> dict[str, dict]:
    return {panel["title"]: panel for panel in all_panels(load_dashboard()) if panel["type"] != "row"}


def test_dashboard_has_a_prometheus_data_source_variable() -> None:
    """The first variable picks a Prometheus data source, so the dashboard imports anywhere."""
    first = load_dashboard()["templating"]["list"][0]
    assert ("datasource", "datasource", "prometheus") == (first["name"], first["type"], first["query"])


def test_dashboard_has_installation_policy_and_deployment_variables() -> None:
    """After the data source come cluster, job and namespace, each narrowed by the ones before it; then the
    policy and deployment variables, which list label values of the chosen installation."""
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    queries = {name: (selector, label) for name, selector, label in variable_queries(load_dashboard())}
    here = 'job="$job", namespace="$namespace", cluster="$cluster"'
    assert {
        "cluster": ("scaler_build_info", "cluster"),
        "job": ('scaler_build_info{cluster="$cluster"}', "job"),
        "namespace": ('scaler_build_info{cluster="$cluster", job="$job"}', "namespace"),
        "policy": (f"scaler_policy_deployments{{{here}}}", "policy"),
        "deployment": (f'scaler_deployment_info{{{here}, policy=~"$policy"}}', "deployment"),
    } == queries
    assert ["datasource", *INSTALLATION_VARIABLES, "policy", "deployment"] == list(variables)
    for name in ("policy", "deployment"):
        assert (True, True, ".*", DATASOURCE) == (
            variables[name]["multi"], variables[name]["includeAll"], variables[name]["allValue"],
            variables[name]["datasource"],
        )


def test_installation_variables_pick_one_installation() -> None:
    """Cluster, job and namespace are single-valued without All, so two installations in one Prometheus are
    never added up; where a label is missing the variable is empty, which matches series without it."""
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    assert {name: (False, False, DATASOURCE) for name in INSTALLATION_VARIABLES} == {
        name: (variables[name]["multi"], variables[name]["includeAll"], variables[name]["datasource"])
        for name in INSTALLATION_VARIABLES
    }


def test_every_series_selector_names_the_installation() -> None:
    """Every series selector of every panel query, of the policy and deployment variables and of the
    annotations carries job="$job", namespace="$namespace" and cluster="$cluster"."""
    dashboard = load_dashboard()
    exprs = {f"{panel['title']}/{target['refId']}": target["expr"] for panel, target in dashboard_targets(dashboard)}
    exprs |= {f"variable {name}": selector for name, selector, _ in variable_queries(dashboard)
              if name not in INSTALLATION_VARIABLES}
    exprs |= {f"annotation {a['name']}": a["expr"] for a in dashboard_annotations(dashboard)}
    assert {} == {where: missing for where, expr in exprs.items() if (missing := selectors_missing_installation(expr))}


def test_installation_check_can_fail() -> None:
    """A selector without the installation matchers, or with only some, is named; one with all is not."""
    assert ["up", 'scaler_leader{job="$job"}'] == selectors_missing_installation(
        'sum(up) + max(scaler_leader{job="$job"}) + rate(scaler_actions_total{job="$job", '
        'namespace="$namespace", cluster="$cluster"}[5m])'
    )


def test_dashboard_declares_its_import_input_and_requirements() -> None:
    """For import from a file, __inputs asks for one Prometheus data source, used only as the data source
    variable's default (so Grafana's sidecar, which ignores __inputs, falls back to its default Prometheus);
    __requires names Grafana, Prometheus and exactly the panel types the dashboard uses."""
    dashboard = load_dashboard()
    text = DASHBOARD.read_text()
    used = {panel["type"] for panel in all_panels(dashboard) if panel["type"] != "row"}
    requires = {(r["type"], r["id"]) for r in dashboard["__requires"]}
    assert (
        [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}],
        {"text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"}, 2,
        {("grafana", "grafana"), ("datasource", "prometheus")} | {("panel", kind) for kind in used},
    ) == (
        [{key: i[key] for key in ("name", "type", "pluginId")} for i in dashboard["__inputs"]],
        {key: dashboard["templating"]["list"][0]["current"][key] for key in ("text", "value")},
        text.count("${DS_PROMETHEUS}"), requires,
    )


def test_actions_annotation_marks_every_time_series_panel() -> None:
    """One Prometheus annotation marks the scaler's actions (by action, result and policy) on exactly the
    time-series panels, enabled by default."""
    dashboard = load_dashboard()
    annotations = list(dashboard_annotations(dashboard))
    time_series = sorted(panel["id"] for panel in all_panels(dashboard) if panel["type"] == "timeseries")
    assert 1 == len(annotations)
    annotation = annotations[0]
    assert (DATASOURCE, True, {"exclude": False, "ids": time_series}, "action,result,policy", True) == (
        annotation["datasource"], annotation["enable"], annotation["filter"], annotation["tagKeys"],
        "scaler_actions_total{" in annotation["expr"] and 'policy=~"$policy"' in annotation["expr"],
    )


def test_dashboard_wires_no_data_source() -> None:
    """No panel or query names a data source of its own: the data source variable chooses for all."""
    dashboard = load_dashboard()
    wired = [panel["title"] for panel in all_panels(dashboard)
             if panel["type"] != "row" and panel.get("datasource") != DATASOURCE]
    wired += [f"{panel['title']}/{target['refId']}" for panel, target in dashboard_targets(dashboard)
              if target.get("datasource") != DATASOURCE]
    assert [] == wired


@pytest.mark.parametrize("title", REQUIRED_PANELS)
def test_required_panel_exists_with_queries(title: str) -> None:
    """Each required panel exists and has at least one query."""
    assert _panels_by_title()[title]["targets"]


def test_panel_ids_are_unique() -> None:
    """Every panel has its own id (Grafana links and the API address panels by id)."""
    ids = [panel["id"] for panel in all_panels(load_dashboard())]
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap() -> None:
    """No two panels cover the same cell of Grafana's 24-column grid."""
    taken: dict[tuple[int, int], str] = {}
    overlaps = []
    for panel in all_panels(load_dashboard()):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in taken:
                    overlaps.append((taken[(x, y)], panel["title"]))
                taken[(x, y)] = panel["title"]
    assert [] == sorted(set(overlaps))


@pytest.mark.parametrize(
    ("title", "unit"),
    [
        ("GPU-hours saved today", "suffix: GPU-h"),
        ("GPU-hours saved, 7 days", "suffix: GPU-h"),
        ("Dollars saved today", "currencyUSD"),
        ("Dollars saved, 7 days", "currencyUSD"),
        ("Saving now", "currencyUSD"),
        ("Saved by deployment, 7 days", "currencyUSD"),
        ("Last reconcile", "s"),
        ("Reconcile duration and age", "s"),
        ("API latency by endpoint", "s"),
        ("API error rate by endpoint", "percentunit"),
        ("Actions per minute by action and result", "opm"),
    ],
)
def test_panel_unit(title: str, unit: str) -> None:
    """Panels show their values in a sensible unit: GPU-hours, dollars, seconds, ratios, per minute."""
    assert unit == _panels_by_title()[title]["fieldConfig"]["defaults"]["unit"]


def test_gpu_hour_panels_convert_gpu_seconds_to_hours() -> None:
    """Panels in GPU-hours divide the per-policy GPU-seconds counter by 3600."""
    for title in ("GPU-hours saved today", "GPU-hours saved, 7 days"):
        expr = _panels_by_title()[title]["targets"][0]["expr"]
        assert "scaler_policy_gpu_seconds_saved_total" in expr and expr.endswith("/ 3600"), title


def test_today_panels_cover_today_so_far() -> None:
    """The "today" panels use the day so far (now/d) as their time range and $__range as the window."""
    for title in ("GPU-hours saved today", "Dollars saved today"):
        panel = _panels_by_title()[title]
        assert ("now/d", True) == (panel["timeFrom"], "[$__range]" in panel["targets"][0]["expr"]), title


def test_every_deployment_query_honours_the_policy_variable() -> None:
    """A query filtered by $deployment is filtered by $policy too: Deployment at All must not undo a policy pick.

    The deployment variable's All is ".*", so the policy can only narrow a panel through
    ``scaler_deployment_info{policy=~"$policy"}`` (the savings counters carry no policy).
    """
    unfiltered = [
        f"{panel['title']}/{target['refId']}"
        for panel, target in dashboard_targets(load_dashboard())
        if "$deployment" in target["expr"] and 'policy=~"$policy"' not in target["expr"]
    ]
    assert [] == unfiltered


def test_every_metric_in_the_dashboard_exists_in_the_daemon() -> None:
    """Every scaler_* name in any panel query, variable or annotation is a series the daemon exports."""
    dashboard = load_dashboard()
    text = " ".join(target["expr"] for _, target in dashboard_targets(dashboard))
    text += " ".join(selector for _, selector, _ in variable_queries(dashboard))
    text += " ".join(annotation["expr"] for annotation in dashboard_annotations(dashboard))
    assert set() == referenced_metric_names(text) - exported_series_names()


def test_substitution_leaves_no_variable() -> None:
    """After substitution no query or annotation still holds a $variable Prometheus would reject."""
    dashboard = load_dashboard()
    exprs = [target["expr"] for _, target in dashboard_targets(dashboard)]
    exprs += [annotation["expr"] for annotation in dashboard_annotations(dashboard)]
    left = [expr for expr in exprs if re.search(r"\$", substitute_variables(expr, deployment=".*", policy=".*"))]
    assert [] == left


def test_substitution_replaces_both_spellings() -> None:
    """$name and ${name} are both substituted, unknown variables are left for the check above to catch."""
    assert 'x{d=~"a"}[4s] $other' == substitute_variables(
        'x{d=~"${deployment}"}[$__rate_interval] $other', deployment="a", policy=".*"
    )


#: The rows whose panels describe the organization: they must show data in every deployment detail.
ORGANIZATION_ROWS = ("Overview", "Savings")
#: The one panel of those rows that lists deployments (and so needs compact or full detail).
ORGANIZATION_LISTS = ("Saved by deployment, 7 days",)


def _panels_by_row(dashboard: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
        rows.setdefault(current, []).extend([panel, *panel.get("panels", [])] if panel["type"] != "row" else
                                            panel.get("panels", []))
    return rows


def test_organization_panels_read_no_per_deployment_series() -> None:
    """The overview and savings panels (but the top-10 list) read only series every deployment detail exports,
    so they show the organization with SCALER_METRICS_DEPLOYMENT_DETAIL=off too."""
    rows = _panels_by_row(load_dashboard())
    reading = {
        f"{panel['title']}/{target['refId']}": sorted(referenced_metric_names(target["expr"]) & PER_DEPLOYMENT_NAMES)
        for row in ORGANIZATION_ROWS
        for panel in rows[row]
        if panel["title"] not in ORGANIZATION_LISTS
        for target in panel.get("targets", [])
    }
    assert len(reading) >= 10
    assert {} == {where: names for where, names in reading.items() if names}


def test_panels_listing_deployments_keep_to_the_worst() -> None:
    """Every query that shows deployments one by one is cut to a few by topk or bottomk, or is limited to
    such a list, so 10,000 deployments do not become 10,000 rows or lines."""
    unbounded = [
        f"{panel['title']}/{target['refId']}"
        for panel, target in dashboard_targets(load_dashboard())
        if referenced_metric_names(target["expr"]) & PER_DEPLOYMENT_NAMES
        and not re.search(r"\b(topk|bottomk)\(", target["expr"])
    ]
    assert [] == unbounded
